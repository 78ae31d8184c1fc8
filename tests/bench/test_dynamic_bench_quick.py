"""bench/dynamic.py end to end at tiny size: every row (raw STG short/long GOF, Dynamic GSCodec
at both λ and GOF lengths, motion bases, per-frame Static GSCodec) trains, the coded rows
decode from the file, and the results JSON carries the summary the issue names."""
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_quick_dynamic_bench_writes_every_row_and_the_summary(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("GSCODEC_CACHE", str(tmp_path / "cache"))
    import dynamic

    out = tmp_path / "quick"
    argv = ["--quick", "--resolution", "16", "--iterations", "12", "--no-progress", "--out", str(out),
            "--work", str(tmp_path / "runs")]
    assert dynamic.main(argv) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    rows = {r["label"]: r for r in doc["rows"]}
    assert len(rows) == 8 and all(r["psnr"] > 5 for r in rows.values())
    coded = [r for r in rows.values() if r["kind"] == "dynamic-gscodec"]
    assert len(coded) == 4 and all(r["bytes"] > 0 and r["mbps"] > 0 for r in coded)
    assert (doc["meta"]["resolution"], doc["meta"]["iterations"], doc["meta"]["frames"]) == (16, 12, 6)  # given win
    s = doc["summary"]
    for key in ("ratio_vs_raw_stg", "psnr_delta_vs_raw_stg_db", "long_over_short_gof_size", "mbps",
                "per_frame_static_over_dynamic_size", "table_viii"):
        assert key in s, key
    assert s["ratio_vs_raw_stg"] > 0 and s["git_commit"] == doc["meta"]["git_commit"]
    assert "## Goals" in out.with_suffix(".md").read_text() and out.with_suffix(".png").is_file()
    sys.modules.pop("dynamic", None)
