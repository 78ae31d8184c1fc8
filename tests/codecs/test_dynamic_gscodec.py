"""dynamic-gscodec on tiny random Spacetime Gaussians: round trip on the grid, the same values
in a fresh process, seeking one GOF, refusals of damaged / forged streams, the no-simulation
path, `gscodec info` and `gscodec decode --frames`."""
import copy
import math
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from gscodec.codecs import decode_bytes, get_codec
from gscodec.codecs import dynamic_gscodec as dyn
from gscodec.codecs import learned_attributes as la
from gscodec.codecs.dynamic_gscodec import DynamicGSCodec
from gscodec.codecs.registry import decode_to_gaussians
from gscodec.coding import container
from gscodec.coding.container import Section
from gscodec.errors import CorruptStreamError, GscodecError, InputError
from gscodec.scene.spacetime import (
    SpacetimeScene,
    SpacetimeSequence,
    init_decoder,
    slice_at,
)
from gscodec.simulate.spacetime_sim import (
    CHANNELS,
    SpacetimeSim,
    SpacetimeSimConfig,
    to_channels,
)

FPS = 10.0


def _gof(n, frames, seed, sim: dict | None) -> SpacetimeScene:
    """n random splats over frames [f0, f1) (4 of them never visible: pruned); `sim`: the
    SpacetimeSimConfig fields of a started simulation, or None for none."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    dec = init_decoder(seed)
    dec["w2"] = 0.1 * r(3, 16)
    sc = SpacetimeScene(
        means=torch.rand(n, 3, generator=g) - 0.5, motion=0.2 * r(n, 3, 3),
        quats=torch.nn.functional.normalize(r(n, 4), dim=1), omega=0.1 * r(n, 4),
        log_scales=math.log(0.05) + 0.3 * r(n, 3), opacity_logits=r(n) + 1, t_center=torch.rand(n, generator=g),
        t_log_scale=-1 + 0.3 * r(n), features=0.3 * r(n, 9) + 0.5, decoder=dec,
        time_range=(frames[0] / FPS, (frames[1] - 1) / FPS), frame_range=frames)
    sc.opacity_logits[:2] = -8.0  # spatially invisible
    sc.t_center[2:4], sc.t_log_scale[2:4] = 4.0, -2.0  # their temporal peak lies outside the GOF
    if sim is not None:
        s = SpacetimeSim(SpacetimeSimConfig.from_dict(sim))
        s.begin(sc.attributes())
        if s.mask is not None:
            with torch.no_grad():
                s.mask.logits.copy_(r(n))  # about half the splats static
            moving = s.mask.hard()
            sc.motion, sc.omega = sc.motion * moving[:, None, None], sc.omega * moving[:, None]
        sc.entropy_model = s.eval()
    return sc


def _sequence() -> SpacetimeSequence:
    """GOF 0: every attribute entropy-constrained, with a static mask; GOF 1: only quats and
    features constrained, no mask; GOF 2: no simulation."""
    return SpacetimeSequence([_gof(200, (0, 3), 1, {}),
                              _gof(240, (3, 5), 2, {"entropy_attributes": ["quats", "features"],
                                                    "static_mask": {"kind": "none"}}),
                              _gof(160, (5, 7), 3, None)], FPS, 7)


# one torch thread (tests/conftest.py): tiny float64 model evaluations and batched lstsq are
# 20-1000x slower with two on a loaded machine; the fresh-process test still compares against
# a two-thread decode
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def coded():
    seq = _sequence()
    codec = get_codec("dynamic-gscodec", learned_only=True)
    return seq, codec.encode(seq), codec.last_stats


def _matched(orig: SpacetimeScene, dec: SpacetimeScene):
    """orig's kept splats in decoded (Morton) order, matched by nearest position."""
    d, i = cKDTree(orig.means.numpy()).query(dec.means.numpy())
    assert d.max() < 1e-3
    return torch.from_numpy(i)


def test_round_trip_on_the_grid(coded):
    seq, data, stats = coded
    dec = decode_bytes(data)
    assert isinstance(dec, SpacetimeSequence) and dec.fps == FPS and dec.n_frames == 7
    for a, b, st in zip(seq.gofs, dec.gofs, stats["gofs"]):
        assert b.frame_range == a.frame_range and b.time_range == pytest.approx(a.time_range)
        assert len(b) == len(a) - 4 and st["prune"] == {"low_opacity": 2, "never_visible": 2, "kept": len(b)}
        i = _matched(a, b)
        ca, cb = to_channels(a.attributes()), to_channels(b.attributes())
        sim = a.entropy_model
        moving = ~b.static
        for name in CHANNELS:
            rows = moving if name in ("motion", "omega") else torch.ones(len(b), dtype=torch.bool)
            x = ca[name][i][rows]
            if sim is not None:
                half = sim.quantizers[name].step() / 2
            else:  # quality 3: 7 bits over the kept splats' range
                half = (x.max(0).values - x.min(0).values) / (2 ** 7 - 1) / 2
            assert torch.all((x - cb[name][rows]).abs() <= half + 1e-5), name
        assert torch.all(b.motion[b.static] == 0) and torch.all(b.omega[b.static] == 0)
        if sim is not None and sim.mask is not None:
            assert torch.equal(moving, sim.moving()[i]) and 0 < int(moving.sum()) < len(b)
        assert all(torch.equal(a.decoder[k], b.decoder[k]) for k in a.decoder)
    g0, g1, g2 = stats["gofs"]
    assert all(s["method"] == "learned-factorized" for s in g0["attributes"].values())
    assert g1["attributes"]["quats"]["method"] == "learned-factorized"
    assert "image_bytes" in g1["attributes"]["log_scales"] and "learned_bytes" not in g1["attributes"]["log_scales"]
    assert "image_bytes" in g2["attributes"]["features"]
    assert stats["section_bytes"]["features"] == sum(g["sections"]["features"] for g in stats["gofs"])


def test_a_fresh_process_decodes_identical_values(coded, tmp_path):
    _, data, _ = coded
    (tmp_path / "s.gsz").write_bytes(data)
    code = ("import sys, torch; torch.set_num_threads(1); from gscodec.codecs import decode_bytes; "
            "s = decode_bytes(open(sys.argv[1], 'rb').read()); "
            "torch.save([{**g.attributes(), 'static': g.static, **g.decoder} for g in s.gofs], sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.gsz"), str(tmp_path / "o.pt")], check=True,
                   env={"OMP_NUM_THREADS": "1", "PATH": ""})
    theirs = torch.load(tmp_path / "o.pt")
    torch.set_num_threads(2)  # here: two threads, there: one
    try:
        here = decode_bytes(data).gofs
    finally:
        torch.set_num_threads(1)
    for mine, other in zip(here, theirs):
        for k, v in {**mine.attributes(), "static": mine.static, **mine.decoder}.items():
            assert torch.equal(v, other[k]), k


def test_seeking_decodes_only_the_gof_asked_for(coded, monkeypatch):
    _, data, _ = coded
    index = DynamicGSCodec.gof_index(data)
    assert [e["frames"] for e in index] == [[0, 3], [3, 5], [5, 7]]
    assert sum(e["bytes"] for e in index) < len(data) and all(e["sections"][0].endswith("positions") for e in index)
    full = decode_bytes(data).gofs
    for k in range(3):
        seen = []
        for mod, fn in ((dyn, "need_section"), (la, "need")):
            real = getattr(mod, fn)
            monkeypatch.setattr(mod, fn, lambda secs, name, real=real, seen=seen: seen.append(name) or real(secs, name))
        g = DynamicGSCodec.decode_gof(data, k)
        monkeypatch.undo()
        assert seen and all(n.startswith(f"g{k}.") for n in seen)
        assert f"g{k}.features" in seen and (k == 2 or any(n.endswith(".model") for n in seen))
        for name in (*CHANNELS, "means", "static"):
            assert torch.equal(getattr(g, name), getattr(full[k], name)), name
    with pytest.raises(InputError, match="GOF 5"):
        DynamicGSCodec.decode_gof(data, 5)


def _forge(data: bytes, edit) -> bytes:
    """The stream with its header edited and every CRC recomputed (the container accepts it)."""
    header, sections = container.unpack(data)
    header = copy.deepcopy(header)
    edit(header)
    return container.pack(header, list(sections.values()))


def _lying_count(h):  # GOF 0 claims a million splats, and the total agrees
    h["gofs"][0]["count"] += 10 ** 6
    h["count"] += 10 ** 6


FORGERIES = [  # (the GOF it damages, the edit)
    (0, _lying_count), (0, lambda h: h["gofs"][0].update(count=h["gofs"][0]["count"] - 1)),
    (1, lambda h: h["gofs"][1].update(moving=-1)), (0, lambda h: h.update(gofs=[])),
    (0, lambda h: h["gofs"][0]["attributes"]["quats"].update(lo=[0])), (0, lambda h: h["gofs"][0].update(moving_p=1.5)),
    (1, lambda h: h["gofs"][1].update(frames=[4, 5])), (0, lambda h: h.update(count=h["count"] + 1)),
    (2, lambda h: h["gofs"][2]["attributes"]["omega"].update(bits=40)),
    (0, lambda h: h["gofs"][0]["entropy"].pop("features")), (0, lambda h: h.update(fps=-1.0))]


def test_damaged_and_forged_streams_are_refused(coded):
    _, data, _ = coded
    with pytest.raises(CorruptStreamError):
        decode_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    with pytest.raises(CorruptStreamError):
        decode_bytes(bytes(flipped))
    for k, edit in FORGERIES:
        forged = _forge(data, edit)
        with pytest.raises(CorruptStreamError):
            decode_bytes(forged)
        with pytest.raises(CorruptStreamError):
            DynamicGSCodec.decode_gof(forged, k)
    with pytest.raises(InputError, match="limit"):
        decode_bytes(data, max_splats=100)


def test_a_small_fuzz_of_forged_header_fields_never_crashes(coded):
    _, data, _ = coded
    header, sections = container.unpack(data)
    paths = []

    def walk(node, path):
        if path:
            paths.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            walk(v, (*path, k))

    walk(header, ())
    rng = random.Random(3)
    for _ in range(80):
        path, value = rng.choice(paths), rng.choice([-1, 0, 2.5, None, "x", [], {}, 10 ** 7, [0, 0, 0], True, 1e300])
        forged = copy.deepcopy(header)
        node = forged
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
        try:
            out = decode_bytes(container.pack(forged, list(sections.values())))
        except GscodecError:
            continue
        assert isinstance(out, SpacetimeSequence)


def test_the_image_path_round_trips_and_checks_sizes():
    rng = np.random.default_rng(0)
    xyz = rng.random((50, 3)).astype(np.float32)
    for c, bits in ((1, 6), (4, 8), (9, 11)):
        q = rng.integers(0, 1 << bits, (50, c))
        data, method = dyn._encode_images(q, bits, xyz)
        assert method.startswith("image-")
        back = dyn._decode_images(Section("g0.x", method, data), 50, c, bits, xyz)
        assert np.array_equal(back, q)
    with pytest.raises(CorruptStreamError, match="grid"):
        dyn._decode_images(Section("g0.x", method, data), 40, c, bits, xyz[:40])
    with pytest.raises(CorruptStreamError):
        dyn._decode_images(Section("g0.x", "image-png", data), 50, c, bits, xyz)


def test_without_simulation_and_with_the_wrong_input(coded):
    seq, data, _ = coded
    header, _ = container.unpack(data)
    assert header["gofs"][2]["sim"] is None
    assert {e["mode"] for e in header["gofs"][2]["attributes"].values()} == {"uniform"}
    plain = SpacetimeSequence([_gof(120, (0, 2), 4, None)], FPS, 2)
    dec = decode_bytes(get_codec("dynamic-gscodec", quality=5).encode(plain))
    assert len(dec.gofs[0]) == 116 and not bool(dec.gofs[0].static.any())  # random motion: every splat moves
    with pytest.raises(InputError, match="dynamic sequence"):
        get_codec("dynamic-gscodec").encode(seq.gofs[0])
    with pytest.raises(InputError, match="--frames"):
        decode_to_gaussians(data)


def test_simulation_config_follows_quality_unless_set():
    sim = DynamicGSCodec.simulation_config({"quality": 1, "lambda_rate": 0.02})
    assert sim["lambda_rate"] == 0.02 and sim["bits"] == {name: 5 for name in CHANNELS}
    SpacetimeSimConfig.from_dict(sim).validate()
    assert DynamicGSCodec.simulation_config({"quality": 1}, {"bits": {"quats": 9}})["bits"] == {"quats": 9}


def test_info_shows_gofs_attributes_and_bitrate(coded, tmp_path, capsys):
    from gscodec.cli import main

    _, data, _ = coded
    (tmp_path / "s.gsz").write_bytes(data)
    assert main(["info", str(tmp_path / "s.gsz")]) == 0
    out = capsys.readouterr().out
    mbps = 8 * len(data) / (7 / FPS) / 1e6
    assert f"{mbps:.4f} Mbps" in out and f"{len(data) / 7:,.0f} B per frame" in out
    rows = [line.split() for line in out.splitlines()]
    assert [r[:2] for r in rows if r[:1] in (["0"], ["1"], ["2"])] == [["0", "0-2"], ["1", "3-4"], ["2", "5-6"]]
    assert any(r[:1] == ["motion"] for r in rows) and any(r[:1] == ["positions"] for r in rows)


def test_decode_writes_one_ply_per_frame(coded, tmp_path, capsys):
    from gscodec.cli import main
    from gscodec.scene import load_ply

    _, data, _ = coded
    (tmp_path / "s.gsz").write_bytes(data)
    assert main(["decode", str(tmp_path / "s.gsz"), "--frames", str(tmp_path / "frames")]) == 0
    files = sorted((tmp_path / "frames").glob("*.ply"))
    assert [f.name for f in files] == [f"frame_{i:04d}.ply" for i in range(7)]
    dec = decode_bytes(data)
    for f, path in enumerate(files):
        ply, gof = load_ply(path), dec.gof_at(f / FPS)
        visible = slice_at(gof.attributes(), gof.tau(f / FPS))["opacities"] >= 1.0 / 255
        assert ply.sh_degree == 1 and len(ply) == int(visible.sum())
    out = capsys.readouterr().out
    assert "baked PLY vs exact render" in out and "dB mean PSNR" in out
    assert main(["decode", str(tmp_path / "s.gsz")]) == 2
    assert "--frames DIR" in capsys.readouterr().err
    from gscodec.scene import GaussianScene

    (tmp_path / "p.gsz").write_bytes(get_codec("ptc").encode(GaussianScene.random(40, sh_degree=1)))
    assert main(["decode", str(tmp_path / "p.gsz"), "--frames", str(tmp_path / "x")]) == 2
    assert "not frames" in capsys.readouterr().err


def test_only_used_models_travel_and_a_degenerate_gof_keeps_the_byte_floor():
    seq = SpacetimeSequence([_gof(200, (0, 2), 5, {})], FPS, 2)
    codec = get_codec("dynamic-gscodec")  # untrained models on random data: post-training wins
    data = codec.encode(seq)
    chosen = {a for a, st in codec.last_stats["gofs"][0]["attributes"].items() if st["method"].startswith("learned")}
    header, sections = container.unpack(data)
    assert {s.split(".")[1] for s in sections if s.endswith(".model")} == chosen == set(header["gofs"][0]["entropy"])
    assert len(decode_bytes(data).gofs[0]) == 196
    same = _gof(300, (0, 2), 6, None)  # every splat alike: the coders make almost nothing of them
    for name in ("means", "motion", "quats", "omega", "log_scales", "opacity_logits", "t_center", "t_log_scale",
                 "features"):
        setattr(same, name, getattr(same, name)[:1].expand_as(getattr(same, name)).clone())
    same.opacity_logits[:] = 2.0
    same.t_center[:], same.t_log_scale[:] = 0.5, 0.0
    codec = get_codec("dynamic-gscodec")
    data = codec.encode(SpacetimeSequence([same], FPS, 2))
    st = codec.last_stats["gofs"][0]
    assert st["attributes"]["features"]["floor"] and st["attributes"]["features"]["method"] == "raw"
    per_splat = sum(b for k, b in st["sections"].items() if k != "decoder")
    assert per_splat >= 300 and len(decode_bytes(data).gofs[0]) == 300
