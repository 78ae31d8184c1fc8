"""`gscodec bench` and `gscodec eval` on a dynamic dataset (a 16 px, 6-frame built-in dynamic scene): a
spec with dynamic-gscodec trains every GOF, codes, decodes from the file and records Mbps and
per-frame scores; `eval` compares two dynamic streams at each view's time and scores them
against the ground truth per frame; mixing a static and a dynamic input is one line."""
import json
import shutil

import pytest

from gscodec.cli import main
from gscodec.eval.harness import read_results, run_bench, spec_from_dict

SPEC = {"name": "dyn", "scene": [{"name": "d", "source": "builtin-dynamic:16:6"}],
        "train": {"iterations": 12, "gof": 3},
        "codec": [{"label": "dyn", "name": "dynamic-gscodec", "rate_param": "lambda_rate", "rates": [0.01]}]}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GSCODEC_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.delenv("GSCODEC_LPIPS_WEIGHTS", raising=False)
    out = tmp_path_factory.mktemp("bench")
    summary = run_bench(spec_from_dict(SPEC), out)
    yield summary, out
    mp.undo()


def test_bench_runs_a_dynamic_codec(bench_run):
    summary, out = bench_run
    assert summary["failed"] == 0 and summary["ran"] == 1
    (res,) = [r for r in read_results(summary["results"]) if r.get("status") == "ok"]
    assert res["bytes"] > 0 and res["mbps"] > 0 and res["frames"] == 6 and res["gof"] == 3
    assert len(res["per_frame"]) == 6 and res["psnr"] > 5 and res["lpips_note"]


def test_a_static_codec_on_a_dynamic_scene_is_one_line(tmp_path):
    spec = {**SPEC, "train": {"iterations": 12}, "codec": [{"name": "ptc", "rate_param": "quality", "rates": [1]}]}
    summary = run_bench(spec_from_dict(spec), tmp_path)
    assert summary["failed"] == 1
    (rec,) = read_results(summary["results"])
    assert rec["status"] == "error" and "is dynamic (6 frames)" in rec["error"] and "\n" not in rec["error"]


def test_eval_compares_dynamic_streams_and_scores_them_per_frame(bench_run, tmp_path, capsys):
    _, out = bench_run
    gsz = next(out.rglob("scene.gsz"))
    other = tmp_path / "copy.gsz"
    shutil.copy(gsz, other)
    js = tmp_path / "eval.json"
    assert main(["eval", str(gsz), str(other), "--cameras", "builtin-dynamic:16:6", "--json", str(js)]) == 0
    r = json.loads(js.read_text())
    assert r["frames"] == 6 and r["views"] == 6 and r["psnr"] == float("inf") and r["decoded_mbps"] > 0
    gt = r["decoded_vs_ground_truth"]
    assert len(gt["per_frame"]) == 6 and gt["psnr"] == pytest.approx(r["reference_vs_ground_truth"]["psnr"])
    assert "vs ground truth" in capsys.readouterr().out
    assert main(["eval", str(gsz), str(other), "--orbit", "3", "--resolution", "16", "--json", str(js)]) == 0
    assert json.loads(js.read_text())["views"] == 3


def test_eval_refuses_a_static_scene_against_a_dynamic_stream(bench_run, tmp_path, capsys):
    from gscodec.scene import GaussianScene, save_ply

    _, out = bench_run
    ply = tmp_path / "s.ply"
    save_ply(GaussianScene.random(50, sh_degree=1), ply)
    assert main(["eval", str(ply), str(next(out.rglob("scene.gsz"))), "--orbit", "2", "--resolution", "16"]) == 2
    err = capsys.readouterr().err
    assert "static scene" in err and len(err.strip().splitlines()) == 1
