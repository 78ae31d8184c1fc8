"""Anchor codecs side by side on the built-in scene: HAC vs Static GSCodec vs the same Scaffold
model stored without entropy coding (issue #6's goals).

Every codec is one entry of CODECS: a label, the registered codec name, the rate parameter's
values (λ) and its training family. MoP, HEMGS and Predict-GS join by adding an entry.
Each (codec, λ) trains from scratch with the same iteration budget, codes to a .gsz, decodes
from the file alone and is scored on the test views against ground truth. Ratios are taken
at matched PSNR: the other codec's size is interpolated (log-size, linear in PSNR) at each
HAC point's PSNR, where the curves overlap.

    python bench/anchor_codecs.py [--iterations 1000] [--resolution 128]
Writes bench/results/anchor_codecs.md and .json (machine, date, config, all points).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gscodec.data.synthetic import load_builtin  # noqa: E402
from gscodec.train.config import TrainConfig  # noqa: E402
from gscodec.train.run import train_and_compress  # noqa: E402
from gscodec.utils.io import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# one entry per codec; "anchors" codecs train Scaffold-GS (+ their entropy model), "gaussians"
# codecs train 3DGS with compression simulation
CODECS = [
    {"label": "HAC", "codec": "hac", "lambdas": [0.002, 0.008]},
    {"label": "Static GSCodec", "codec": "static-gscodec", "lambdas": [0.002, 0.01]},
]
REFERENCE = "HAC"


def train_config(iterations: int) -> TrainConfig:
    """3DGS schedule of the demo scaled to the budget (anchor codecs scale HAC's own)."""
    stop = int(iterations * 2 / 3)
    return TrainConfig(iterations=iterations, sh_degree=2, sh_degree_interval=max(iterations // 4, 1),
                       strategy_options=dict(refine_start=iterations // 8, refine_stop=stop, refine_every=100,
                                             reset_every=100_000, max_gaussians=25_000))


def run_point(ds, entry: dict, lam: float, args, work: Path) -> dict:
    t0 = time.perf_counter()
    res = train_and_compress(ds, train_config(args.iterations), work / f"{entry['codec']}-{lam}",
                             codec=entry["codec"], codec_config={"lambda_rate": lam}, progress=False)
    m = res.metrics
    point = {"label": entry["label"], "codec": entry["codec"], "lambda": lam, "psnr": m["compressed"]["psnr"],
             "ssim": m["compressed"]["ssim"], "bytes": m["compressed"]["bytes"],
             "psnr_before_coding": m["uncompressed"]["psnr"], "seconds": time.perf_counter() - t0,
             "train_seconds": m["train_seconds"], "encode_seconds": m["encode_seconds"],
             "decode_seconds": m["decode_seconds"]}
    if m.get("representation") == "anchors":
        st = m.get("codec_stats", {})
        point.update(raw_bytes=m["uncompressed"]["bytes"], anchors=m["decoded_anchors"],
                     export_psnr=m["export"]["psnr"], export_fit_loss_db=m["export"]["fit_loss_db"],
                     groups=st.get("groups"), bits=st.get("bits"))
    else:
        point["splats"] = m["decoded_splats"]
    return point


def size_at(points: list[dict], psnr: float) -> float | None:
    """log-size interpolated linearly in PSNR between the two nearest points; None outside."""
    pts = sorted(points, key=lambda p: p["psnr"])
    for a, b in zip(pts, pts[1:]):
        if a["psnr"] <= psnr <= b["psnr"] and b["psnr"] > a["psnr"]:
            t = (psnr - a["psnr"]) / (b["psnr"] - a["psnr"])
            return math.exp((1 - t) * math.log(a["bytes"]) + t * math.log(b["bytes"]))
    return None


def report(points: list[dict], meta: dict) -> str:
    lines = ["# Anchor codecs on the built-in scene (HAC vs Static GSCodec vs raw Scaffold-GS)", "",
             f"Machine: {meta['machine']}; {meta['date_utc']}; command: `{meta['command']}`.",
             f"Budget: {meta['iterations']} training iterations per point at {meta['resolution']}x"
             f"{meta['resolution']} (HAC's 30k schedule scaled; 3DGS: the demo's schedule scaled). Test views against "
             "ground truth, every .gsz decoded from the file alone.", "",
             "| codec | λ | PSNR (dB) | SSIM | size (B) | before coding (dB) | raw Scaffold (B) | raw / coded | "
             "PLY export (dB, fit loss) | train s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        raw = f"{p['raw_bytes']:,}" if "raw_bytes" in p else "-"
        ratio = f"{p['raw_bytes'] / p['bytes']:.1f}x" if "raw_bytes" in p else "-"
        exp = f"{p['export_psnr']:.2f} ({p['export_fit_loss_db']:.2f})" if "export_psnr" in p else "-"
        lines.append(f"| {p['label']} | {p['lambda']} | {p['psnr']:.2f} | {p['ssim']:.4f} | {p['bytes']:,} | "
                     f"{p['psnr_before_coding']:.2f} | {raw} | {ratio} | {exp} | {p['train_seconds']:.0f} |")
    ref = [p for p in points if p["label"] == REFERENCE]
    lines += ["", f"## {REFERENCE} against the others at matched PSNR", ""]
    for other in sorted({p["label"] for p in points} - {REFERENCE}):
        pts = [p for p in points if p["label"] == other]
        for r in ref:
            s = size_at(pts, r["psnr"])
            if s is None:
                lo, hi = min(p["psnr"] for p in pts), max(p["psnr"] for p in pts)
                rel = "above" if r["psnr"] > hi else "below"
                lines.append(f"- {REFERENCE} λ={r['lambda']} ({r['psnr']:.2f} dB, {r['bytes']:,} B): {other}'s curve "
                             f"spans {lo:.2f}-{hi:.2f} dB, {rel} it; no matched-PSNR size (nearest {other} point: "
                             f"{min(pts, key=lambda p: abs(p['psnr'] - r['psnr']))['bytes']:,} B).")
            else:
                lines.append(f"- {REFERENCE} λ={r['lambda']} at {r['psnr']:.2f} dB: {r['bytes']:,} B vs {other} "
                             f"{s:,.0f} B interpolated: ratio {r['bytes'] / s:.2f}.")
    for r in ref:
        if "raw_bytes" in r:
            lines.append(f"- {REFERENCE} λ={r['lambda']} vs the same model stored raw (scaffold-raw, PSNR "
                         f"{r['psnr_before_coding']:.2f} dB, no quantization): {r['bytes'] / r['raw_bytes']:.3f} of its size.")
    lines += ["", "## Where HAC's bytes go (storage groups) and coded vs estimated bits", ""]
    for r in ref:
        if r.get("bits"):
            parts = ", ".join(f"{g} coded {b['coded']:,} vs estimated {b['estimated']:,.0f} bits "
                              f"({100 * (b['coded'] / b['estimated'] - 1):+.2f}%)" for g, b in r["bits"].items())
            lines.append(f"- λ={r['lambda']}: {parts}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--codecs", nargs="*", help="labels to run (default: all)")
    ap.add_argument("--out", default=str(RESULTS / "anchor_codecs"))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    ds = load_builtin(resolution=args.resolution)
    work = Path("runs") / "anchor_codecs"
    points = []
    for entry in CODECS:
        if args.codecs and entry["label"] not in args.codecs:
            continue
        for lam in entry["lambdas"]:
            print(f"{entry['label']} λ={lam} ...", flush=True)
            p = run_point(ds, entry, lam, args, work)
            print(f"    PSNR {p['psnr']:.2f} dB, {p['bytes']:,} B, {p['seconds']:.0f} s", flush=True)
            points.append(p)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python bench/anchor_codecs.py " + " ".join(sys.argv[1:]),
            "iterations": args.iterations, "resolution": args.resolution,
            "loadavg_1min_end": round(os.getloadavg()[0], 2), "numpy": np.__version__}
    md = report(points, meta)
    print(md)
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".md"), md)
    atomic_write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "points": points}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
