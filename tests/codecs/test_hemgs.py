"""HEMGS on the anchor framework: adaptive context selection picks exactly the right decoded
neighbours, steps grow with λ, one trained model codes at two λ (each stream decoding in a
fresh process to the same symbols), the shipped point encoder loads offline and gives the
same bits everywhere, and the stream refuses what it cannot trust."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gscodec.cli import main
from gscodec.codecs import decode_bytes
from gscodec.codecs.hemgs import HemgsCodec
from gscodec.coding import container
from gscodec.entropy.hac import HacConfig, HacEntropyModel
from gscodec.entropy.hemgs import HemgsConfig, HemgsEntropyModel
from gscodec.entropy.neighbours import coding_passes, select_context
from gscodec.entropy.point_encoder import WEIGHTS, grouping, shipped
from gscodec.errors import CorruptStreamError, InputError
from gscodec.models.scaffold import render_anchor_scene
from gscodec.train.anchor_run import save_trained

sys.path.insert(0, str(Path(__file__).parent))
from fresh_decode import decode_in_fresh_process  # noqa: E402
from tiny import tiny_config, train_tiny  # noqa: E402

TINY = tiny_config()


@pytest.fixture(scope="module")
def trained(ds):
    return train_tiny(ds, HemgsEntropyModel(HemgsConfig(**TINY)))


def _brute_force(vox, passes, i, field, n_max):
    d = vox - vox[i]
    c = np.flatnonzero((np.abs(d).max(1) <= (field - 1) // 2) & (passes < passes[i]))
    order = np.lexsort((c, (d[c] ** 2).sum(1)))
    return c[order][:n_max]


def test_acs_takes_all_when_few_the_nearest_otherwise_and_only_decoded_anchors():
    rng = np.random.default_rng(1)
    dense = np.unique(rng.integers(0, 30, (2500, 3)), axis=0)  # most anchors: > 20 in the field
    sparse = np.unique(rng.integers(0, 400, (300, 3)), axis=0)  # most: fewer than 20
    for vox, field in ((dense, 25), (sparse, 25), (dense, 5)):
        passes = coding_passes(vox)
        nb = select_context(vox, passes, field, 20)
        counts = (nb >= 0).sum(1)
        for i in range(0, len(vox), 7):
            got = nb[i][nb[i] >= 0]
            assert np.array_equal(got, _brute_force(vox, passes, i, field, 20)), i
            assert (passes[got] < passes[i]).all()  # never an anchor not yet decoded
        assert (counts[passes == 0] == 0).all()
    assert (select_context(dense, coding_passes(dense), 25, 20) >= 0).sum(1).max() == 20
    few = (select_context(sparse, coding_passes(sparse), 25, 20) >= 0).sum(1)
    assert 0 < few.max() < 20  # sparse: everything in the field is taken


def test_steps_grow_with_lambda(trained):
    em = trained.entropy_model
    anchors = trained.model.anchors.detach().numpy()
    steps = []
    for lam in (0.001, 0.002, 0.004, 0.008, 0.03):
        em.set_lambda(lam)
        ctx = em.coding_context(anchors)
        units = em.coding_units(ctx)
        dec = {g: np.zeros((len(anchors), d)) for g, d in em.dims.items()}
        qs = [em.unit_params(u, ctx, dec).q for u in units if u.index == 0]
        steps.append(np.concatenate([np.broadcast_to(q, (len(q), 1)) for q in qs]))
    em.set_lambda(0.004)
    for a, b in zip(steps, steps[1:]):
        assert (b >= a).all() and (b > a).mean() > 0.5
    with pytest.raises(InputError, match="outside"):
        em.set_lambda(1.0)


def test_one_model_two_lambdas_two_streams_each_decoding_identically_elsewhere(trained, ds, tmp_path):
    scene, em = trained.result_scene(), trained.entropy_model
    streams = []
    for lam in (0.002, 0.008):
        em.set_lambda(lam)
        codec = HemgsCodec()
        data = codec.encode(scene)
        assert container.unpack(data)[0]["hemgs_lambda"] == lam
        for g, b in codec.last_stats["bits"].items():  # 8 passes: one ANS frame (<= 96 bits of flush) each
            assert abs(b["coded"] - b["model"]) <= 0.005 * b["model"] + 96 * 8, (g, b)
        streams.append(data)
    em.set_lambda(0.004)
    assert len(streams[0]) > len(streams[1])  # a larger λ: coarser steps, a smaller file
    cam = ds.cameras[ds.test_indices[0]]
    for data in streams:
        sym, img = decode_in_fresh_process(data, cam, tmp_path)
        for k, v in HemgsCodec.decode_symbols(data).items():
            assert np.array_equal(np.asarray(v), sym[k].numpy()), k
        assert torch.equal(render_anchor_scene(decode_bytes(data), cam, backend="cpu").image, img)


def test_encode_a_run_folder_at_another_lambda(trained, tmp_path, capsys):
    save_trained(tmp_path, trained.result_scene(), "hemgs", {})
    out = tmp_path / "x.gsz"
    assert main(["encode", str(tmp_path), "--lambda", "0.006", "-o", str(out)]) == 0
    assert container.unpack(out.read_bytes())[0]["hemgs_lambda"] == 0.006
    assert main(["encode", str(tmp_path), "--lambda", "5", "-o", str(tmp_path / "y.gsz")]) == 2
    assert "outside" in capsys.readouterr().err and not (tmp_path / "y.gsz").exists()
    hac_run = tmp_path / "hac"
    hac_run.mkdir()
    scene = trained.result_scene()
    scene.entropy_model = HacEntropyModel(HacConfig(**TINY))
    save_trained(hac_run, scene, "hac", {})
    assert main(["encode", str(hac_run), "--lambda", "0.006", "-o", str(tmp_path / "z.gsz")]) == 2
    assert "trained for one λ" in capsys.readouterr().err


def test_ablation_configs_build_and_code(trained):
    scene = trained.result_scene()
    for opts in ({"sa": False}, {"ar": False}, {"ar_neighbours": 0}, {"ar_field": 5}, {"n_experts": 3}):
        cfg = HemgsConfig(**TINY, **opts).validate()
        m = HemgsEntropyModel(cfg)
        assert sum(t.numel() for t in m.prior_tensors()) == cfg.prior_param_count(m.context.out_dim)
        m.set_bounds(trained.entropy_model.context.lo, trained.entropy_model.context.hi)
        with pytest.raises(InputError, match="never seen its anchors"):
            m.stream_state("float16")
        m.voxel.copy_(trained.entropy_model.voxel)
        scene.entropy_model = m
        data = HemgsCodec().encode(scene)
        dec = decode_bytes(data)
        assert len(dec) == int(scene.offset_mask.any(1).sum())
        n_units = len(container.unpack(data)[0]["ranges"]["feature"])
        assert n_units == (1 if opts.get("ar") is False else 8)


def test_point_encoder_ships_loads_offline_and_gives_the_same_bits_in_a_fresh_process(tmp_path):
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size < 64_000
    vox = np.unique(np.random.default_rng(2).integers(0, 60, (800, 3)), axis=0)
    enc = shipped()
    a = enc.features64(vox)
    with torch.no_grad():  # the torch path (pretraining) computes the same network
        b = type(enc).load().double()(grouping(vox)).numpy()
    assert np.abs(a - b).max() < 1e-9 and a.std() > 0
    np.save(tmp_path / "vox.npy", vox)
    code = ("import sys, numpy as np, torch; torch.set_num_threads(1); from gscodec.entropy.point_encoder import "
            "shipped; np.save(sys.argv[2], shipped().features64(np.load(sys.argv[1])))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "vox.npy"), str(tmp_path / "f.npy")], check=True,
                   env={"OMP_NUM_THREADS": "1", "PATH": "", "no_proxy": "*", "HTTP_PROXY": "http://0.0.0.0:9"})
    assert np.load(tmp_path / "f.npy").tobytes() == a.tobytes()


def test_stream_refuses_another_encoder_a_bad_lambda_or_voxel(trained):
    data = HemgsCodec().encode(trained.result_scene())
    header, sections = container.unpack(data)
    for key, value, match in (("hemgs_sa", "0" * 16, "another scene-agnostic"), ("hemgs_lambda", 9.0, "outside"),
                              ("hemgs_voxel", -1.0, "voxel"), ("hemgs_lambda", None, "malformed")):
        with pytest.raises(CorruptStreamError, match=match):
            HemgsEntropyModel.from_stream(dict(header, **{key: value}), sections)


def test_models_pickled_before_the_shared_mixture_still_load():
    """Run folders and checkpoints hold pickled models: the old hyperprior layout (a Linear +
    ReLU) loads as a one-expert mixture, by pickle and by state dict."""
    import io

    from torch import nn

    m = HemgsEntropyModel(HemgsConfig(**TINY, sa=False).validate())
    x = torch.randn(5, m.hyper.in_dim)
    want = m.hyper(x)
    old_state = {k.replace("hyper.experts.0.0.", "hyper.0."): v for k, v in m.state_dict().items()}
    m.hyper = nn.Sequential(m.hyper.experts[0][0], nn.ReLU())  # the layout before mixture.py
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=False)
    assert torch.equal(back.hyper(x), want) and back.hyper.tensors()[0] is back.hyper.experts[0][0].weight
    fresh = HemgsEntropyModel(HemgsConfig(**TINY, sa=False).validate())
    fresh.load_state_dict(old_state)
    assert torch.equal(fresh.hyper(x), want)


def test_the_scaled_step_form_is_not_capped_and_old_streams_keep_theirs(trained):
    """HAC's 1 + tanh caps a step at 2 Q0; trained scaling/offsets steps sat there for every λ.
    The "scaled" form multiplies HAC's step by 2^(s t); streams made before it keep "tanh"."""
    import dataclasses

    bs = np.array([[10.0, 0.5], [-1.0, 0.0]])  # a saturated base; another anchor
    new = HemgsEntropyModel(HemgsConfig(**TINY).validate())
    old = HemgsEntropyModel(dataclasses.replace(HemgsConfig(**TINY), step_form="tanh").validate())
    for t in (-1.0, 0.0, 2.0):
        q_new, q_old = new._step(bs, t, 1.0), old._step(bs, t, 1.0)
        assert q_old.max() <= 2.0 and np.allclose(q_new, old._step(bs, 0.0, 1.0) * np.exp2(replay_sp(bs[:, 1:]) * t))
    assert new._step(bs, 2.0, 1.0)[0, 0] > 2.0
    em = trained.entropy_model
    header, sections = em.stream_state("float16")
    header = {**header, "hemgs": {k: v for k, v in header["hemgs"].items() if k != "step_form"}}
    assert HemgsEntropyModel.from_stream(header, {s.name: s for s in sections}).cfg.step_form == "tanh"
    with pytest.raises(InputError, match="step_form"):
        HemgsConfig(**TINY, step_form="log").validate()


def replay_sp(x):
    from gscodec.entropy.replay import softplus64

    return softplus64(x)
