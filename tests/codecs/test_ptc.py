"""Post-training codec: round trips, error bounds per bit width, corruption, fresh-process decode."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from gscodec.codecs import decode_bytes, get_codec
from gscodec.codecs.ptc.attributes import to_channels
from gscodec.coding import container
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene import GaussianScene


def _scene(n=600, degree=2, seed=0):
    s = GaussianScene.random(n, sh_degree=degree, seed=seed)
    s.opacity_logits = s.opacity_logits.clamp(-4, 6)  # keep everything above the prune threshold
    return s


@pytest.mark.parametrize("layout_preset", ["default", "gsplat-png"])
@pytest.mark.parametrize("degree", [0, 3])
def test_round_trip_keeps_count_degree_and_bounds(layout_preset, degree):
    scene = _scene(degree=degree)
    codec = get_codec("ptc", preset=layout_preset)
    data = codec.encode(scene)
    out = decode_bytes(data)
    assert len(out) == len(scene) and out.sh_degree == degree
    # positions: error at most half a grid step of the 16-bit grid (order may differ: compare sets)
    lo, hi = scene.means.min(0).values, scene.means.max(0).values
    cfg = codec.config
    step = ((hi - lo) / (2 ** cfg.position_bits - 1)).numpy()
    # match each decoded point to its nearest original (sets, since the codec reorders)
    from scipy.spatial import cKDTree

    d, idx = cKDTree(scene.means.numpy()).query(out.means.numpy())
    assert np.all(np.abs(out.means.numpy() - scene.means.numpy()[idx]) <= step / 2 + 1e-5)
    assert len(np.unique(idx)) == len(scene)  # a one-to-one match
    # scalar attributes: error bound of 8-bit quantization in the codec's working form
    src = to_channels(scene.subset(torch.from_numpy(idx)))
    dec = to_channels(out)
    for name in ("scales", "opacity", "sh_dc"):
        span = src[name].max(0) - src[name].min(0)
        bound = span / (2 ** cfg.bits[name] - 1) / 2 + 1e-4
        assert np.all(np.abs(dec[name] - src[name]) <= bound), name
    # quaternions (smallest three): each stored component within half a step; the largest,
    # restored from the unit norm, within ~2.1 steps; compare as rotations (q ~ -q)
    q_src = torch.nn.functional.normalize(scene.quats[torch.from_numpy(idx)], dim=-1).numpy()
    q_dec = out.quats.numpy()
    q_dec = q_dec * np.sign((q_dec * q_src).sum(1, keepdims=True))
    step = (src["quats"].max(0) - src["quats"].min(0)).max() / (2 ** cfg.bits["quats"] - 1)
    assert np.abs(q_dec - q_src).max() <= 2.2 * step
    assert np.allclose(np.linalg.norm(q_dec, axis=1), 1, atol=1e-5)


def test_scalar_sh_rest_error_bound():
    scene = _scene(400, degree=3)
    codec = get_codec("ptc", sh_rest_mode="scalar")
    out = decode_bytes(codec.encode(scene))
    from scipy.spatial import cKDTree

    _, idx = cKDTree(scene.means.numpy()).query(out.means.numpy())
    src, dec = to_channels(scene.subset(torch.from_numpy(idx))), to_channels(out)
    span = src["sh_rest"].max(0) - src["sh_rest"].min(0)
    bits = codec.config.bits["sh_rest"]
    assert np.all(np.abs(dec["sh_rest"] - src["sh_rest"]) <= span / (2 ** bits - 1) / 2 + 1e-4)


def test_fixed_step_sh_rest_error_is_half_a_step_and_ladder_reaches_it():
    scene = _scene(400, degree=3)
    codec = get_codec("ptc", quality=6)
    cfg = codec.config
    assert cfg.sh_rest_mode == "scalar" and cfg.sh_rest_step > 0
    out = decode_bytes(codec.encode(scene))
    from scipy.spatial import cKDTree

    _, idx = cKDTree(scene.means.numpy()).query(out.means.numpy())
    src, dec = to_channels(scene.subset(torch.from_numpy(idx))), to_channels(out)
    assert np.abs(dec["sh_rest"] - src["sh_rest"]).max() <= cfg.sh_rest_step / 2 + 1e-5


def test_old_version_1_streams_still_decode():
    """A stream written before sh_rest_step existed (codec_version 1, no such config key)."""
    from gscodec.coding import container

    scene = _scene(200, degree=1)
    header, sections = container.unpack(get_codec("ptc", quality=3).encode(scene))
    header["codec_version"] = 1
    del header["config"]["sh_rest_step"]
    out = decode_bytes(container.pack(header, list(sections.values())))
    assert len(out) == len(scene)


def test_pruning_drops_invisible_splats():
    scene = _scene(300)
    scene.opacity_logits[:50] = -9.0  # opacity ~1e-4 < 1/255
    codec = get_codec("ptc")
    out = decode_bytes(codec.encode(scene))
    assert len(out) == 250 and codec.last_stats["prune"]["low_opacity"] == 50


def test_outlier_pruning():
    scene = _scene(400)
    scene.means[:3] = torch.tensor([[50.0, 50, 50], [-60, 40, 70], [80, -90, 10]])
    out = decode_bytes(get_codec("ptc", prune={"outlier_std_ratio": 3.0}).encode(scene))
    assert len(out) <= 397 and float(out.means.abs().max()) < 10


def test_quality_knob_orders_sizes():
    scene = _scene(2000, degree=1)
    sizes = [len(get_codec("ptc", quality=q).encode(scene)) for q in (1, 3, 5, 8)]
    assert sizes[0] < sizes[1] < sizes[2] < sizes[3]


def test_empty_and_tiny_scenes():
    for n in (0, 1, 3):
        scene = _scene(n, degree=1) if n else GaussianScene.empty(1)
        out = decode_bytes(get_codec("ptc").encode(scene))
        assert len(out) == n


@pytest.mark.parametrize("preset", ["default", "gsplat-png"])
def test_every_corrupted_byte_is_refused(preset):
    data = bytearray(get_codec("ptc", preset=preset).encode(_scene(24, degree=1)))
    for pos in range(len(data)):  # every byte position of a small file
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(CorruptStreamError):
            decode_bytes(bytes(bad))
    for cut in range(len(data)):  # every truncation
        with pytest.raises(CorruptStreamError):
            decode_bytes(bytes(data[:cut]))


def test_bad_config_is_a_clear_error():
    for q in (0, 9):  # level 0 is a base grid of the ladder, not a quality
        for preset in ("default", "uniform"):
            with pytest.raises(InputError, match="quality"):
                get_codec("ptc", preset=preset, quality=q)
    with pytest.raises(InputError, match="preset"):
        get_codec("ptc", preset="nope")
    with pytest.raises(InputError, match="unknown codec"):
        get_codec("zip")


def test_fresh_process_decodes_identically(tmp_path):
    scene = _scene(500, degree=2)
    data = get_codec("ptc").encode(scene)
    (tmp_path / "s.gsz").write_bytes(data)
    here = decode_bytes(data)
    code = ("import sys, torch; from gscodec.codecs import decode_bytes; "
            "s = decode_bytes(open(sys.argv[1], 'rb').read()); "
            "torch.save({k: getattr(s, k) for k in s.TENSORS}, sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.gsz"), str(tmp_path / "t.pt")], check=True)
    there = torch.load(tmp_path / "t.pt")
    for k in here.TENSORS:
        assert torch.equal(getattr(here, k), there[k]), k


def test_real_sample(shared_data):
    from gscodec.scene import load_ply

    scene = load_ply(shared_data / "small_sh3.ply")
    data = get_codec("ptc").encode(scene)
    out = decode_bytes(data)
    assert out.sh_degree == 3 and len(out) <= len(scene)
    assert len(data) < (shared_data / "small_sh3.ply").stat().st_size / 6


def test_target_psnr_picks_the_smallest_quality_that_reaches_it(tmp_path, capsys):
    from gscodec.cli import main
    from gscodec.codecs.ptc.target import OrbitReference
    from gscodec.scene import save_ply

    scene = _scene(300, degree=1, seed=4)
    save_ply(scene, tmp_path / "in.ply")
    out = tmp_path / "t.gsz"
    assert main(["encode", str(tmp_path / "in.ply"), "-o", str(out), "--target-psnr", "45",
                 "--target-views", "2", "--target-resolution", "48"]) == 0
    text = capsys.readouterr().out
    assert "target 45 dB: quality" in text and "reaches it" in text
    picked = int(text.split("target 45 dB: quality ")[1].split()[0])
    ref = OrbitReference(scene, 2, 48)
    assert ref.psnr(decode_bytes(out.read_bytes())) >= 45
    if picked > 1:  # one level lower misses the target
        lower = decode_bytes(get_codec("ptc", quality=picked - 1).encode(scene))
        assert ref.psnr(lower) < 45
    # per-attribute widths (allocate.py) reach the target in fewer bytes than the level alone, and
    # the stream says which widths it used (an ordinary ptc stream)
    ladder = get_codec("ptc", quality=picked).encode(scene)
    assert "per-attribute widths (positions" in text and out.stat().st_size < len(ladder)
    header = container.unpack(out.read_bytes())[0]
    widths = text.split("per-attribute widths (")[1].split(" bits)")[0]
    assert widths == ", ".join(f"{k} {header['config']['bits'][k] if k != 'positions' else header['config']['position_bits']}"
                               for k in ("positions", "scales", "quats", "opacity", "sh_dc"))
    assert main(["encode", str(tmp_path / "in.ply"), "-o", str(tmp_path / "l.gsz"), "--target-psnr", "45",
                 "--target-views", "2", "--target-resolution", "48", "--ladder-only"]) == 0
    assert (tmp_path / "l.gsz").read_bytes() == ladder and "per-attribute" not in capsys.readouterr().out


def test_allocation_parts_sh_rest_order_interpolation_and_refusals():
    from gscodec.codecs.ptc.allocate import _coded_sh_rest, interpolated
    from gscodec.codecs.ptc.target import encode_for_psnr

    scene = _scene(300, degree=1, seed=5)
    cfg = get_codec("ptc", quality=6).config  # fixed-step scalar SH rest: error <= step / 2 in the scene's order
    rest = _coded_sh_rest(scene, cfg, get_codec("ptc", quality=6).encode(scene))
    assert np.abs(rest - scene.sh_rest.reshape(300, -1).numpy()).max() <= cfg.sh_rest_step / 2 + 1e-6
    e = {4: [np.array([1e-4]), 10], 5: [None, 20], 6: [np.array([1e-6]), 30], 7: [None, 40], 3: [None, 5]}
    t = interpolated(e)
    assert sorted(t) == [4, 5, 6] and t[5][0][0] == pytest.approx(1e-5) and t[5][1] == 20  # none extrapolated
    r = encode_for_psnr(scene, 45, views=2, resolution=48, position_bits=14)
    assert r.allocated is None and r.allocation_note == "widths given (position_bits) are kept"
    with pytest.raises(InputError, match="finite"):
        encode_for_psnr(scene, float("nan"))
    assert get_codec("ptc", bits={"scales": 10}).config.bits == {**get_codec("ptc").config.bits, "scales": 10}


def test_allocation_picks_the_cheapest_combination_predicted_to_reach_the_goal():
    from gscodec.codecs.ptc.allocate import cheapest

    base = np.array([1e-6, 1e-6])  # two views
    table = {"base": base,
             "positions": {10: (np.array([4e-6, 4e-6]), 100), 12: (np.array([1e-6, 1e-6]), 200)},
             "scales": {5: (np.array([8e-6, 8e-6]), 50), 7: (np.array([5e-7, 5e-7]), 90)},
             **{a: {6: (np.zeros(2), 10)} for a in ("quats", "opacity", "sh_dc")}}
    psnr = lambda mse: float(np.mean(10 * np.log10(1 / mse)))  # noqa: E731
    widths, predicted = cheapest(table, 54.0)
    # positions 10 + scales 7 (190 B, MSE 5.5e-6: 52.6 dB) misses 54 dB; 12 + 7 (290 B, 2.5e-6: 56.0 dB) reaches it
    # and beats 12 + 5 (250 B but 1e-5: 50 dB, misses)
    assert (widths["positions"], widths["scales"]) == (12, 7) and predicted == pytest.approx(psnr(base + 1.5e-6))
    assert cheapest(table, 70.0) is None


# ---- neighbour-context coding (#23 item 3) -------------------------------------------------
SYMBOLS_CODE = ("import sys, numpy as np; from gscodec.codecs.ptc import layouts; "
                "from gscodec.codecs.ptc.config import PtcConfig; from gscodec.coding import container; "
                "h, s = container.unpack(open(sys.argv[1], 'rb').read()); c = PtcConfig.from_dict(h['config']); "
                "qpos, sym, _ = layouts.EntropyLayout.decode(s, h, c, h['count'], h['sh_degree']); "
                "np.savez(sys.argv[2], qpos=qpos, **sym)")


def _symbols_here(data):
    from gscodec.codecs.ptc import layouts
    from gscodec.codecs.ptc.config import PtcConfig
    from gscodec.coding import container

    h, s = container.unpack(data)
    qpos, sym, _ = layouts.EntropyLayout.decode(s, h, PtcConfig.from_dict(h["config"]), h["count"], h["sh_degree"])
    return {"qpos": qpos, **sym}


def test_context_coded_streams_decode_in_a_fresh_process_to_identical_symbols(tmp_path):
    import os
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from smooth import smooth_scene

    from gscodec.codecs.info import gsz_summary
    from gscodec.coding.neighbour_context import METHODS

    data = get_codec("ptc").encode(smooth_scene(2000))
    methods = {r["name"]: r["method"] for r in gsz_summary(data)["sections"]}
    assert {methods["scales"], methods["sh_dc"]} <= set(METHODS), methods
    (tmp_path / "s.gsz").write_bytes(data)
    subprocess.run([sys.executable, "-c", SYMBOLS_CODE, str(tmp_path / "s.gsz"), str(tmp_path / "sym.npz")],
                   check=True, env={"OMP_NUM_THREADS": "1", "PATH": "", **{k: v for k, v in os.environ.items()
                                                                         if k == "PYTHONPATH"}})
    there, here = np.load(tmp_path / "sym.npz"), _symbols_here(data)
    assert set(there.files) == set(here)
    for k in here:
        assert np.array_equal(there[k], here[k]), k
    off = get_codec("ptc", neighbour_context=False).encode(smooth_scene(2000))
    assert not set(METHODS) & {r["method"] for r in gsz_summary(off)["sections"]}
    assert len(data) < len(off)


@pytest.mark.parametrize("name, version, digest", [("fuzz/ptc.gsz", 1, "5fad9ef9d36c10d2"),
                                                    ("old/ptc_v2_q3.gsz", 2, "0e1e5228fb5997cc"),
                                                    ("old/ptc_v2_q5.gsz", 2, "2af2af648d80e225"),
                                                    ("old/ptc_v3_q3.gsz", 3, "b0c9a73c0a02ef98")])
def test_older_stream_versions_decode_unchanged(name, version, digest):
    """Streams the version-1, -2 and -3 encoders wrote; digests of their decoded tensors as
    those versions' decoder computed them."""
    import hashlib
    from pathlib import Path

    from gscodec.coding import container

    data = (Path(__file__).parent / "data" / name).read_bytes()
    assert container.unpack(data)[0]["codec_version"] == version
    s = decode_bytes(data)
    got = hashlib.sha256(b"".join(np.ascontiguousarray(getattr(s, k).numpy()).tobytes() for k in s.TENSORS))
    assert got.hexdigest()[:16] == digest
