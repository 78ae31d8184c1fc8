"""`gscodec report`: deterministic regeneration, BD tables, published points kept apart."""
import hashlib
import json
import re

import pytest

from gscodec.errors import InputError
from gscodec.eval.harness import run_bench, spec_from_dict
from gscodec.eval.reference import canonical_dataset, load_published, published_for
from gscodec.eval.report import build_report


def _job(job, ctx):
    q, shift = job.rate, {"anchor": 1.0, "small": 0.8, "broken": 1.0}[job.codec.label]
    if job.codec.label == "broken" and q in (2, 3):
        raise ValueError("decoder mismatch")
    b = 1000 * 2 ** q * shift
    return {"psnr": 25.0 + 2 * q + (0.01 if job.scene.name == "s2" else 0), "ssim": 0.8 + 0.03 * q,
            "lpips": 0.3 - 0.02 * q, "bytes": b, "sections": [{"name": "means", "bytes": 0.3 * b},
                                                               {"name": "colors", "bytes": 0.7 * b}],
            "splats": 500, "encode_seconds": 0.1, "decode_seconds": 0.05, "train_seconds": 12.0,
            "train_shared": True, "train_iterations": 100, "device": "cpu", "reference": "ground truth",
            "uncompressed": {"bytes": 10 ** 6, "splats": 500, "psnr": 40.0, "ssim": 0.99}}


@pytest.fixture
def results(tmp_path):
    spec = spec_from_dict({
        "name": "toy", "anchor": "anchor",
        "scene": [{"name": "s1", "source": "x1.ply", "dataset": "Mip-NeRF360"},
                  {"name": "s2", "source": "x2.ply", "dataset": "Mip-NeRF360"}],
        "codec": [{"label": c, "name": "ptc", "rate_param": "quality", "rates": [1, 2, 3, 4]}
                  for c in ("anchor", "small", "broken")]})
    run_bench(spec, tmp_path / "run", job_fn=_job, log=None)
    return tmp_path / "run" / "results.jsonl"


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.suffix in (".md", ".png")}


def test_report_is_deterministic_and_complete(results, tmp_path):
    a = build_report(results, tmp_path / "a")
    b = build_report(results, tmp_path / "b")
    da, db = _digest(a.parent), _digest(b.parent)
    assert da == db and "report.md" in da
    assert {"rd_Mip-NeRF360.png", "sizes_Mip-NeRF360.png"} <= set(da)
    md = a.read_text()
    assert "| small | -20.00% |" in md  # rate x 0.8 at equal PSNR on both scenes
    assert "broken" in md and "n/a (" in md and "decoder mismatch" in md  # too few points; failure listed
    assert "## Failed jobs" in md
    # provenance read from the records, never typed in: the commit of the code, the command, the total time
    from gscodec.utils.provenance import start_commit

    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", start_commit())
    assert f"Code: git {start_commit()}" in md and "; command: `gscodec " in md
    assert "Timings: the " in md and " jobs took " in md and "1-min load at the jobs' ends" in md
    # published points: separate, labelled section; never in the measured rows
    assert "Published reference points for Mip-NeRF360 (NOT measured here)" in md
    measured = md.split("### Published")[0]
    assert "HAC" not in measured and "[published]" not in measured
    assert "| HAC | high | 21.87 MB | 27.77 |" in md
    # the report regenerates in place too (next to the results), again identically
    c = build_report(results)
    assert c.read_text() == md


def test_report_options(results, tmp_path):
    md = build_report(results, tmp_path / "o", anchor="small", published=False).read_text()
    assert "| anchor | +25.00% |" in md and "Published" not in md
    with pytest.raises(InputError):
        build_report(results, tmp_path / "o", anchor="nope")
    with pytest.raises(InputError):
        build_report(tmp_path / "missing.jsonl")


def test_published_data():
    pts = load_published()
    assert len(pts) >= 20 and all(p.source and p.size_mb > 0 for p in pts)
    assert canonical_dataset("Tanks&Temples") == "tanks_temples" == canonical_dataset("tandt")
    assert canonical_dataset("builtin") is None and published_for("builtin") == {}
    hac = published_for("mipnerf360")["HAC"]
    assert [(p.psnr, p.size_mb) for p in hac] == [(27.53, 15.26), (27.77, 21.87)]


def test_cli_register(results, tmp_path, capsys):
    import argparse

    from gscodec.eval.cli import register

    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="verb"))
    args = p.parse_args(["report", str(results), "-o", str(tmp_path / "cli")])
    assert args.fn(args) == 0
    assert (tmp_path / "cli" / "report.md").is_file()
    spec = tmp_path / "s.toml"
    spec.write_text('[[scene]]\nsource = "builtin"\n[[codec]]\nname = "ptc"\nrate_param = "quality"\nrates = [1]\n')
    args = p.parse_args(["bench", str(spec), "-o", str(tmp_path / "dry"), "--dry-run"])
    assert args.fn(args) == 0
    assert "builtin|ptc|quality=1" in capsys.readouterr().out
    json.dumps({})


def test_provenance_line_says_when_rows_come_from_several_commits():
    from gscodec.eval.report import _provenance_lines

    one = _provenance_lines([{"git_commit": "a", "command": "c"}, {"git_commit": "a"}])[0]
    assert one == "Code: git a; command: `c`."
    two = _provenance_lines([{"git_commit": "a"}, {"git_commit": "b+dirty"}])[0]  # not comparable: flagged
    assert "several commits whose code differs, or cannot be compared" in two
