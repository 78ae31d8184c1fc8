"""The anchor comparison (`bench/anchor_codecs.py --quick`) end to end at tiny size: HAC, the
combined codec (one model, two λ) and the plain-3DGS + ptc curve train, code, decode from
the bytes and land in one results JSON whose summary holds every codec's BD-rate against
HAC (or why there is none) and a report with the comparison table and plot."""
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_quick_comparison_runs_every_kind_of_entry(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import anchor_codecs

    out = tmp_path / "quick"
    argv = ["--quick", "--resolution", "24", "--views", "8", "--iterations", "20", "--codecs", "HAC", "Combined",
            "3DGS + ptc", "--lambdas", "HAC=0.004", "Combined=0.002,0.008", "3DGS + ptc=1,4",
            "--out", str(out), "--work", str(tmp_path / "runs")]
    assert anchor_codecs.main(argv) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    pts = doc["points"]
    assert {p["label"] for p in pts} == {"HAC", "Combined", "3DGS + ptc"} and len(pts) == 5
    assert all(p["bytes"] > 0 and p["psnr"] > 5 for p in pts)
    comb = [p for p in pts if p["label"] == "Combined"]
    assert sum(p["train_seconds"] > 0 for p in comb) == 1  # one model, coded at both λ
    vs = doc["summary"]["versus_hac"]
    assert set(doc["summary"]["bd_rate_vs_hac_pct"]) == {"Combined", "3DGS + ptc"}
    assert vs["Combined"]["bd_rate_vs_hac_pct"] is None and vs["Combined"]["note"]  # too few points: said why
    assert doc["meta"]["quick"] and doc["summary"]["git_commit"] == doc["meta"]["git_commit"]
    md = out.with_suffix(".md").read_text()
    assert "## Every codec against HAC" in md and "no paper (ours)" in md
    assert out.with_suffix(".png").is_file()
    sys.modules.pop("anchor_codecs", None)


def test_the_script_runs_from_the_command_line():
    import subprocess

    r = subprocess.run([sys.executable, str(BENCH / "anchor_codecs.py"), "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--quick" in r.stdout
