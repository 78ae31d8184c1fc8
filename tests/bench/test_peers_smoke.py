"""Smoke tests of bench/ptc_vs_peers.py: the synthetic generator, the matched-PSNR verdicts and,
where the npm peers are installed (`npm ci --prefix bench/peers`), one SPZ round trip each."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "ptc_vs_peers.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("ptc_vs_peers", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_synthetic_scene_is_seeded_and_trained_like(bench):
    a = bench.synthetic_scene(4000, seed=3)
    b = bench.synthetic_scene(4000, seed=3)
    assert len(a) == 4000 and a.sh_degree == 3
    for name in a.TENSORS:
        assert np.array_equal(getattr(a, name).numpy(), getattr(b, name).numpy())
    op = a.opacities.numpy()
    assert (op < 0.2).mean() > 0.2 and (op > 0.8).mean() > 0.3  # bimodal
    rest = a.sh_rest.numpy()
    assert 0.005 < rest.std() < 0.2
    assert np.corrcoef(rest[:, :, 0].ravel(), rest[:, :, 1].ravel())[0, 1] > 0.5  # channels correlate


def test_matched_psnr_verdicts(bench):
    rows = [
        {"input": "x", "family": "sog", "method": "SOG", "status": "ok", "bytes": 1000, "psnr": 40.0},
        {"input": "x", "family": "spz", "method": "SPZ", "status": "ok", "bytes": 900, "psnr": 45.0},
        {"input": "x", "family": "ours", "method": "q1", "status": "ok", "bytes": 400, "psnr": 41.0},
        {"input": "x", "family": "ours", "method": "q3", "status": "ok", "bytes": 600, "psnr": 44.0},
    ]
    g = {e["peer"]: e for e in bench.matched_psnr(rows)}
    assert g["SOG"]["verdict"] == "met" and g["SOG"]["ours"] == "q1"
    assert g["SPZ"]["verdict"] == "not met" and "ours" not in g["SPZ"]
    # --target-psnr rows: matched to their peer by name, never part of the interpolated curve
    rows.append({"input": "x", "family": "ours-target", "method": "t", "status": "ok", "bytes": 700, "psnr": 45.2,
                 "params": {"for": "SPZ", "target_psnr": 45.0}})
    g = {e["peer"]: e for e in bench.matched_psnr(rows)}
    assert g["SPZ"]["target_mode_ratio"] == pytest.approx(700 / 900) and g["SPZ"]["target_mode_reached"]
    assert "target_mode_bytes" not in g["SOG"] and "ours" not in g["SPZ"]
    s = bench.summary(rows, list(g.values()), [], [], "c")
    assert s["max_size_ratio_vs_spz_target_mode"] == pytest.approx(700 / 900)
    assert s["max_size_ratio_vs_spz_at_45db_target_mode"] == pytest.approx(700 / 900)
    rows[-1]["psnr"] = 44.9  # a stream that missed the peer's PSNR is no answer
    g = {e["peer"]: e for e in bench.matched_psnr(rows)}
    s = bench.summary(rows, list(g.values()), [], [], "c")
    assert s["max_size_ratio_vs_spz_target_mode"] == float("inf")
    assert s["max_size_ratio_vs_spz_at_45db_target_mode"] is None


@pytest.mark.parametrize("tool", ["spz-js", "splat-transform"])
def test_peer_spz_round_trip(bench, tool, tmp_path, require):
    if shutil.which("node") is None:
        require("node is not installed")
    if tool == "spz-js" and not (bench.PEERS / "node_modules" / "spz-js").is_dir():
        require("spz-js not installed (npm ci --prefix bench/peers)")
    if tool == "splat-transform" and not bench.SPLAT_TRANSFORM.exists():
        require("splat-transform not installed (npm ci --prefix bench/peers)")
    from gscodec.scene import save_ply

    ply = save_ply(bench.synthetic_scene(500, seed=0), tmp_path / "in.ply")
    if tool == "spz-js":
        row, out = bench.run_spz_js(ply, tmp_path, 120)
    else:
        row, out = bench.run_splat_transform(ply, tmp_path, "spz", 120)
    assert row["status"] == "ok", row
    assert 0 < row["bytes"] < ply.stat().st_size
    scene, _ = bench._load_ply(out)
    assert len(scene) == 500 and scene.sh_degree == 3
