"""Malformed PLYs through `gscodec encode` (#22): bench/fuzz_ply.py's kinds (counts, types,
NaN/Inf per attribute, endianness, ASCII, huge values, degenerate rotations, missing and
list properties, truncated headers, ...) each end in a one-line refusal that leaves no
output, or in a stream that decodes finite (with a note when the input was repaired)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import fuzz_ply  # noqa: E402


def test_every_malformed_ply_kind_is_refused_in_one_line_or_encoded_correctly():
    res = fuzz_ply._run_here()
    assert len(res["kinds"]) >= 60
    bad = [f"{k['kind']}: {k['message']}" for k in res["kinds"] if k["outcome"] == "bad"]
    assert not bad, "\n".join(bad)
    by = {k["kind"]: k["outcome"] for k in res["kinds"]}
    assert by["valid (control)"] == "ok" and by["NaN in x"] == "refused" and by["count 2^63"] == "refused"
    assert by["degenerate quaternions (all zero)"] == "note"
