"""Static GSCodec: trained with simulation -> .gsz -> decoded in a fresh process, exactly."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from gscodec.codecs import decode_bytes, get_codec
from gscodec.data.synthetic import load_builtin
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene import GaussianScene
from gscodec.train import TrainConfig, Trainer


@pytest.fixture(scope="module", params=["factorized", "gaussian"])
def trained(request, tmp_path_factory):
    ds = load_builtin(resolution=32, n_views=12, cache_dir=tmp_path_factory.mktemp("builtin"))
    cfg = TrainConfig(iterations=40, sh_degree=1, sh_degree_interval=10, max_init_points=500,
                      strategy_options=dict(refine_start=10, refine_stop=20, refine_every=10, reset_every=10_000),
                      simulation=dict(start=20, lambda_rate=0.01, entropy_model=request.param))
    t = Trainer(ds, cfg)
    t.train(progress=False)
    return t


def test_decoded_attributes_are_the_simulated_ones(trained):
    codec = get_codec("static-gscodec", learned_only=True)
    data = codec.encode(trained.scene_for_eval(simulated=False))
    dec = decode_bytes(data)
    sim_scene = trained.scene_for_eval(simulated=True)
    assert len(dec) == len(sim_scene) - codec.last_stats["prune"].get("low_opacity", 0)
    # positions are re-ordered (Morton); match each decoded splat by its nearest original
    from scipy.spatial import cKDTree

    _, idx = cKDTree(sim_scene.means.numpy()).query(dec.means.numpy())
    src = sim_scene.subset(torch.from_numpy(idx))
    assert np.allclose(dec.log_scales.numpy(), src.log_scales.numpy(), atol=1e-5)
    assert np.allclose(dec.sh_dc.numpy(), src.sh_dc.numpy(), atol=1e-5)
    assert np.allclose(dec.opacity_logits.numpy(), src.opacity_logits.numpy(), atol=1e-5)
    # rotations too: the decoded unit quaternion is the simulated one's direction (q and -q rotate alike)
    qs = src.quats.numpy() / np.linalg.norm(src.quats.numpy(), axis=1, keepdims=True)
    assert np.allclose(np.abs((dec.quats.numpy() * qs).sum(1)), 1.0, atol=1e-5)
    for name, st in codec.last_stats["attributes"].items():
        assert st["method"].startswith("learned-"), name
        assert st["bytes"] == st["learned_bytes"] > 0


def test_fresh_process_decodes_identically(trained, tmp_path):
    data = get_codec("static-gscodec").encode(trained.scene_for_eval(simulated=False))
    (tmp_path / "s.gsz").write_bytes(data)
    code = ("import sys, torch; from gscodec.codecs import decode_bytes; "
            "s = decode_bytes(open(sys.argv[1], 'rb').read()); "
            "torch.save({k: getattr(s, k) for k in s.TENSORS}, sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.gsz"), str(tmp_path / "d.pt")], check=True)
    other = torch.load(tmp_path / "d.pt")
    here = decode_bytes(data)
    for k in here.TENSORS:
        assert torch.equal(getattr(here, k), other[k]), k


def test_needs_a_scene_trained_with_simulation_and_refuses_corruption(trained):
    plain = GaussianScene.random(50, sh_degree=1, seed=0)
    with pytest.raises(InputError, match="trained with compression simulation"):
        get_codec("static-gscodec").encode(plain)
    data = bytearray(get_codec("static-gscodec").encode(trained.scene_for_eval(simulated=False)))
    for pos in (20, len(data) // 2, len(data) - 5):
        bad = bytearray(data)
        bad[pos] ^= 0x40
        with pytest.raises(CorruptStreamError):
            decode_bytes(bytes(bad))
    with pytest.raises(CorruptStreamError):
        decode_bytes(bytes(data[: len(data) // 3]))


def test_quality_sets_the_simulated_bit_widths_unless_the_config_does():
    from gscodec.codecs.static_gscodec import StaticGSCodec

    for quality, bits in ((1, 5), (2, 6), (3, 7), (4, 8), (5, 10)):
        sim = StaticGSCodec.simulation_config({"quality": quality, "lambda_rate": 0.01})
        assert sim["bits"] == {"quats": bits, "log_scales": bits, "opacity_logits": bits, "sh_dc": bits}
        assert sim["lambda_rate"] == 0.01
    mine = {"bits": {"quats": 8, "log_scales": 8, "opacity_logits": 8, "sh_dc": 8}}
    assert StaticGSCodec.simulation_config({"quality": 1}, mine)["bits"]["quats"] == 8
    with pytest.raises(InputError, match="quality"):
        StaticGSCodec.simulation_config({"quality": 9})


def test_only_used_models_travel_and_streams_holding_every_model_still_decode(trained):
    from gscodec.coding import container

    codec = get_codec("static-gscodec")
    data = codec.encode(trained.scene_for_eval(simulated=False))
    header, sections = container.unpack(data)
    learned = {a for a, st in codec.last_stats["attributes"].items() if st["method"].startswith("learned-")}
    assert set(header["entropy"]) == learned
    assert {n.split(".")[0] for n in sections if n.endswith(".model")} == learned
    for st in codec.last_stats["attributes"].values():  # the weights count against the learned side
        if st["method"].startswith("learned-"):
            assert st["learned_bytes"] + st["model_bytes"] <= st["post_training_bytes"]
        elif "learned_bytes" in st:
            assert st["learned_bytes"] + st["model_bytes"] > st["post_training_bytes"]
        if "refit_bits" in st:  # kept only when smaller; never below the symbols' own entropy
            assert st["refit_bits"] >= st["iid_entropy_bits"] * 0.999
    # a stream written before 2026-12 carried every model: add the unused ones back, same scene
    full = get_codec("static-gscodec", learned_only=True)
    fh, fs = container.unpack(full.encode(trained.scene_for_eval(simulated=False)))
    extra = {n: s for n, s in fs.items() if n.endswith((".model", ".hash")) and n.split(".")[0] not in learned}
    old = container.pack({**header, "entropy": fh["entropy"]}, [*sections.values(), *extra.values()])
    a, b = decode_bytes(data), decode_bytes(old)
    for k in a.TENSORS:
        assert torch.equal(getattr(a, k), getattr(b, k)), k


def test_refit_moves_a_factorized_model_to_the_symbols_it_codes():
    from gscodec.codecs.learned_attributes import iid_entropy_bits, refit_factorized
    from gscodec.entropy.factorized import FactorizedEntropyModel

    rng = np.random.default_rng(0)
    y = np.stack([np.rint(rng.laplace(5, 2, 3000)), np.rint(rng.normal(-8, 4, 3000))], 1).astype(np.int64)
    m = FactorizedEntropyModel(2)  # untrained: centred on 0, wide
    lo, hi = y.min(0), y.max(0)
    before, after = m.coded_bits(y, lo, hi), refit_factorized(m, y).coded_bits(y, lo, hi)
    floor = iid_entropy_bits(y)
    assert floor <= after < before and after < 1.05 * floor


def test_the_encoder_computes_each_attributes_symbols_once_and_writes_the_same_stream(trained, monkeypatch):
    """The refit's symbols go to the grid coder (#21): one symbol pass per quantized attribute,
    and the bytes are those of the encoder that computed them again in encode_grid."""
    import gscodec.codecs.learned_attributes as la
    import gscodec.codecs.static_gscodec as sg

    scene = trained.scene_for_eval(simulated=False)
    sim, calls = scene.entropy_model, []
    symbols = type(sim).symbols
    monkeypatch.setattr(type(sim), "symbols", lambda self, name, x: calls.append(name) or symbols(self, name, x))
    data = get_codec("static-gscodec").encode(scene)
    assert sorted(calls) == sorted(sim.quantizers)
    grid = la.encode_grid
    monkeypatch.setattr(sg, "encode_grid", lambda *a, symbols=None, **kw: grid(*a, **kw))  # the second pass back
    calls.clear()
    assert get_codec("static-gscodec").encode(scene) == data and len(calls) == 2 * len(sim.quantizers)
