"""Makes the tiny valid stream of every codec the fuzz starts from (tests/codecs/data/fuzz/*.gsz);
static and dynamic GSCodec twice: the best of the post-training coders, and learned_only
(the trained entropy models code the attributes).

Why committed files: five codecs need a trained model, which takes minutes; the suite's fuzz
must run in seconds. Re-run after a stream-format change:
    python bench/fuzz_seeds.py [--out tests/codecs/data/fuzz] [--only CODEC ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "codecs"
DEFAULT_OUT = TESTS / "data" / "fuzz"


def _ds():
    from gscodec.data.synthetic import load_builtin

    return load_builtin(resolution=24, n_views=10, cache_dir=tempfile.mkdtemp())


def _ptc(preset):
    from gscodec.codecs import get_codec
    from gscodec.scene import GaussianScene

    torch.manual_seed(0)
    return get_codec("ptc", preset=preset).encode(GaussianScene.random(80, sh_degree=1))


def _ptc_neighbour():
    """A ptc stream whose attributes are all neighbour-context coded (each variant once): at
    this size the encoder would pick simpler models, so their sections are swapped in."""
    from smooth import smooth_scene

    from gscodec.codecs import get_codec
    from gscodec.codecs.ptc import layouts
    from gscodec.codecs.ptc.config import PtcConfig
    from gscodec.coding import container
    from gscodec.coding.container import Section
    from gscodec.coding.neighbour_context import encode_neighbour

    header, sections = container.unpack(get_codec("ptc").encode(smooth_scene(120)))
    cfg = PtcConfig.from_dict(header["config"])
    qpos, sym, _ = layouts.EntropyLayout.decode(sections, header, cfg, header["count"], header["sh_degree"])
    graph = layouts._graph(qpos, cfg)
    methods = {"scales": "neighbour", "quats": "neighbourplain", "opacity": "neighbourplain", "sh_dc": "neighbourchan"}
    for name, method in methods.items():
        key = sym["quat_index"][:, 0] if name == "quats" else None
        sections[name] = Section(name, method, encode_neighbour(sym[name], cfg.bits[name], graph, method, key))
    return container.pack(header, list(sections.values()))


def _static(learned_only=False):
    from gscodec.codecs import get_codec
    from gscodec.train import TrainConfig, Trainer

    from gscodec.data.synthetic import load_builtin

    ds = load_builtin(resolution=24, n_views=8, cache_dir=tempfile.mkdtemp())
    cfg = TrainConfig(iterations=30, sh_degree=1, sh_degree_interval=10, max_init_points=150,
                      strategy_options=dict(refine_start=10, refine_stop=20, refine_every=10, reset_every=10_000),
                      simulation=dict(start=20, lambda_rate=0.01, entropy_model="gaussian"))
    t = Trainer(ds, cfg)
    t.train(progress=False)
    return get_codec("static-gscodec", learned_only=learned_only).encode(t.scene_for_eval(simulated=False))


def _anchor_plain(name):
    from test_hac import make_scene

    from gscodec.codecs import get_codec

    return get_codec(name).encode(make_scene(n=60))


def _mop():
    from tiny import tiny_config, train_tiny

    from gscodec.codecs.mop import MopCodec
    from gscodec.entropy.mop import MopConfig, MopEntropyModel
    from gscodec.train.scaffold import ScaffoldConfig

    t = train_tiny(_ds(), MopEntropyModel(MopConfig(**tiny_config())), iterations=30,
                   phases=MopCodec().training_phases(ScaffoldConfig.scaled(30)))
    return MopCodec().encode(t.result_scene())


def _hemgs():
    from tiny import tiny_config, train_tiny

    from gscodec.codecs.hemgs import HemgsCodec
    from gscodec.entropy.hemgs import HemgsConfig, HemgsEntropyModel

    t = train_tiny(_ds(), HemgsEntropyModel(HemgsConfig(**tiny_config())), iterations=30)
    return HemgsCodec().encode(t.result_scene())


def _predict(combined: bool):
    from tiny import tiny_config

    from gscodec.codecs.combined import CombinedCodec
    from gscodec.codecs.predict_gs import PredictGSCodec
    from gscodec.entropy import HacConfig, HacEntropyModel
    from gscodec.entropy.hemgs import HemgsConfig, HemgsEntropyModel
    from gscodec.models.predict_gs import RESIDUAL_DIM, PredictGSModel
    from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer

    torch.manual_seed(0)
    cfg = ScaffoldConfig.scaled(30, voxel_size=0.25, feat_dim=8, n_offsets=4)
    if combined:
        codec = CombinedCodec(experts=3)
        em = HemgsEntropyModel(HemgsConfig(**tiny_config(RESIDUAL_DIM), **codec.model_options()))
        model_class = CombinedCodec.representation_class
    else:
        codec = PredictGSCodec()
        em, model_class = HacEntropyModel(HacConfig(**tiny_config(RESIDUAL_DIM))), PredictGSModel
    t = ScaffoldTrainer(_ds(), cfg, entropy_model=em, model_class=model_class,
                        phases=cfg.phases(codec.training_phases(cfg)), view_scale=codec.training_view_scale(cfg))
    t.train(progress=False)
    return codec.encode(t.result_scene())


def _dynamic(learned_only=False):
    import test_dynamic_gscodec as td

    from gscodec.codecs import get_codec
    from gscodec.scene.spacetime import SpacetimeSequence

    seq = SpacetimeSequence([td._gof(60, (0, 3), 1, {}), td._gof(50, (3, 5), 3, None)], td.FPS, 5)
    return get_codec("dynamic-gscodec", learned_only=learned_only).encode(seq)


MAKERS = {"ptc": lambda: _ptc("default"), "ptc-neighbour": _ptc_neighbour, "gsplat-png": lambda: _ptc("gsplat-png"), "static-gscodec": _static,
          "hac": lambda: _anchor_plain("hac"), "scaffold-raw": lambda: _anchor_plain("scaffold-raw"),
          "predict-gs": lambda: _predict(False), "mop": _mop, "hemgs": _hemgs, "combined": lambda: _predict(True),
          "dynamic-gscodec": _dynamic, "static-gscodec-learned": lambda: _static(True),
          "dynamic-gscodec-learned": lambda: _dynamic(True)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(TESTS))
    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    from gscodec.codecs import decode_bytes

    for name in a.only or MAKERS:
        data = MAKERS[name]()
        decode_bytes(data)  # a seed must decode
        (a.out / f"{name}.gsz").write_bytes(data)
        print(f"{name}: {len(data)} bytes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
