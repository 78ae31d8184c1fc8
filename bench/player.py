"""The 4D player's playback in headless Chromium (issue: the player reaches the sequence's frame
rate, or reports the rate it reaches, and the data sent per frame).

For each dynamic stream given (default: the Dynamic GSCodec short- and long-GOF streams that
`bench/dynamic.py` leaves in its work folder), `gscodec.viewer.measure.measure_playback` plays
it for `--seconds` and records: the server's rate of frame switches (slice, bake, send), the
rate the page draws at (software WebGL here: the browser is the bottleneck), the time to the
first drawn frame, and the bytes sent per frame against the stream's own bytes per frame.

    python bench/player.py [STREAM.gsz ...] [--seconds 8]
Writes bench/results/player.{md,json}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import run_meta, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_WORK = Path("runs/bench_dynamic")
DEFAULT_STREAMS = ("Dynamic_GSCodec_λ0.01,_short_GOF", "Dynamic_GSCodec_λ0.01,_long_GOF")


def report(rows: list[dict], meta: dict) -> str:
    lines = ["# The 4D player in headless Chromium", "",
             f"{meta['machine']}; {meta['date_utc']}; load {meta['loadavg_1min_end']} at the end; "
             f"git {meta['git_commit']}", f"Command: `{meta['command']}`", "",
             "Server fps: frames the player switched to per second while playing (after one loop every "
             "frame is in the browser and only visibility travels). Browser fps: frames the page drew per "
             "second (software WebGL on this machine, no GPU).", "",
             "| stream | frames | target fps | server fps | browser fps | first frame s | sent per frame | "
             "stream per frame | sent / stream |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['frames']} | {r['target_fps']:g} | {r['achieved_fps']:.1f} | "
                     f"{r['browser_fps']:.1f} | {r['first_frame_s']:.1f} | {r['bytes_per_frame']:,.0f} B | "
                     f"{r['stream_bytes_per_frame']:,.0f} B | {r['bytes_per_frame'] / r['stream_bytes_per_frame']:.1f}x |")
    if meta.get("notes"):
        lines += ["", meta["notes"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from gscodec.viewer.measure import measure_playback

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="*", help="dynamic .gsz files (default: bench/dynamic.py's work folder)")
    ap.add_argument("--work", default=str(DEFAULT_WORK), help="bench/dynamic.py's --work folder")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--notes", default=None)
    a = ap.parse_args(argv)
    paths = [Path(p) for p in a.streams] or [Path(a.work) / d / "scene.gsz" for d in DEFAULT_STREAMS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such stream: {', '.join(missing)} (run bench/dynamic.py first, or name streams)", file=sys.stderr)
        return 2
    rows = []
    for p in paths:
        r = measure_playback(p, seconds=a.seconds)
        rows.append({"name": p.parent.name if p.name == "scene.gsz" else p.name, **r})
        print(f"{rows[-1]['name']}: server {r['achieved_fps']:.1f} fps, browser {r['browser_fps']:.1f} fps "
              f"(target {r['target_fps']:g}), {r['bytes_per_frame']:,.0f} B sent per frame", flush=True)
    meta = run_meta("player.py", seconds=a.seconds)
    first = rows[0]
    summary = {"target_fps": first["target_fps"], "achieved_fps": first["achieved_fps"],
               "browser_fps": first["browser_fps"], "achieved_over_target": first["achieved_fps"] / first["target_fps"],
               "browser_over_target": first["browser_fps"] / first["target_fps"],
               "bytes_sent_per_frame": first["bytes_per_frame"],
               "sent_over_stream_bytes_per_frame": first["bytes_per_frame"] / first["stream_bytes_per_frame"],
               "git_commit": meta["git_commit"]}
    out = Path(a.out) if a.out else RESULTS / "player"
    return write_results(out, "rows", rows, meta, a.notes, lambda rows, path: None, report, summary=summary)


if __name__ == "__main__":
    sys.exit(main())
