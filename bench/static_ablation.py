"""Ablation of the compression-simulation options (GSCodec Studio, Table IV) on the built-in scene.

Rows: Static GSCodec's choice (noise + factorized + learnable mask), then one option switched
at a time (STE, hash-grid Gaussian model, gradient mask), and training without simulation
(plain 3DGS + our post-training codec; the "w/o comp. sim." row of Table VI). Every row trains
the same schedule from the same seed, codes to a .gsz, decodes from the file alone and scores
the test views against ground truth.

    python bench/static_ablation.py [--iterations 1000] [--lambda 0.006] [--resolution 128]
Writes bench/results/static_ablation.md and .json (machine, date, config, per-row figures).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402

from gscodec.data.synthetic import load_builtin  # noqa: E402
from gscodec.train.config import TrainConfig  # noqa: E402
from gscodec.train.run import train_and_compress  # noqa: E402
from gscodec.utils.io import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# (label, codec, simulation overrides); None = train without simulation, code with ptc
ROWS = [
    ("final (noise, factorized, learnable mask)", "static-gscodec", {}),
    ("STE instead of noise", "static-gscodec", {"quantization": "ste"}),
    ("hash-grid Gaussian model instead of factorized", "static-gscodec", {"entropy_model": "gaussian"}),
    ("gradient mask instead of learnable", "static-gscodec", {"mask": {"kind": "gradient"}}),
    ("without compression simulation (3DGS + ptc)", "ptc", None),
]
# Table IV of the paper (Tanks&Temples, GPU, 30k iterations): PSNR dB / size MB
PAPER = {"final": (23.74, 7.10), "STE": (23.47, 7.73), "hash-grid": (23.68, 8.01), "gradient": (23.62, 7.28),
         "without": (24.13, 14.0)}


def schedule(iterations: int) -> dict:
    """The demo's schedule scaled to `iterations`: densify for the first 2/3, simulate the rest."""
    stop = int(iterations * 2 / 3)
    return dict(iterations=iterations, sh_degree=2, sh_degree_interval=max(iterations // 4, 1),
                strategy_options=dict(refine_start=iterations // 8, refine_stop=stop, refine_every=100,
                                      reset_every=100_000, grow_grad2d=0.0002, max_gaussians=25_000))


def run_row(ds, label, codec, sim, args, work: Path) -> dict:
    base = schedule(args.iterations)
    cfg = TrainConfig(**base, simulation=None if sim is None else {"start": base["strategy_options"]["refine_stop"],
                                                                    **sim})
    codec_config = {"quality": args.quality}
    if codec == "static-gscodec":
        codec_config["lambda_rate"] = args.lambda_rate
    t0 = time.perf_counter()
    res = train_and_compress(ds, cfg, work / label.split(" ")[0].strip("()"), codec=codec,
                             codec_config=codec_config, progress=False)
    m = res.metrics
    return {"label": label, "codec": codec, "simulation": sim, "psnr": m["compressed"]["psnr"],
            "ssim": m["compressed"]["ssim"], "lpips": m.get("lpips"), "bytes": m["compressed"]["bytes"],
            "uncompressed_psnr": m["uncompressed"]["psnr"], "splats": m["splats"],
            "decoded_splats": m["decoded_splats"], "seconds": time.perf_counter() - t0,
            "sections": m.get("codec_stats", {}).get("attributes")}


def paper_key(label: str) -> str:
    for k in PAPER:
        if k in label:
            return k
    return "final"


def report(rows: list[dict], meta: dict) -> str:
    final = rows[0]
    lines = [
        "# Compression-simulation ablation (GSCodec Studio Table IV directions), built-in scene",
        "",
        f"Machine: {meta['machine']}; {meta['date_utc']}; command: `{meta['command']}`.",
        f"Schedule: {meta['iterations']} iterations at {meta['resolution']}x{meta['resolution']}, densification for the "
        f"first 2/3, simulation after; λ = {meta['lambda_rate']}; post-training quality {meta['quality']}. "
        "Test views against ground truth, decoded from the .gsz alone.",
        "",
        "| configuration | PSNR (dB) | SSIM | size (B) | size vs final | ΔPSNR vs final | splats kept | paper PSNR / MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        p = PAPER[paper_key(r["label"])]
        lines.append(f"| {r['label']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['bytes']:,} | "
                     f"{r['bytes'] / final['bytes']:.2f}x | {r['psnr'] - final['psnr']:+.2f} | "
                     f"{r['decoded_splats']:,} | {p[0]:.2f} / {p[1]:.2f} |")
    lines += ["", "Directions of the paper (each alternative worse than the final choice in PSNR and size; "
              "no simulation: better PSNR, about 2x the size) against ours:", ""]
    for r in rows[1:]:
        p, f = PAPER[paper_key(r["label"])], PAPER["final"]
        paper_dir = ("larger" if p[1] > f[1] else "smaller", "lower" if p[0] < f[0] else "higher")
        ours = ("larger" if r["bytes"] > final["bytes"] else "smaller", "lower" if r["psnr"] < final["psnr"] else "higher")
        agree = "agrees" if paper_dir == ours else "differs"
        lines.append(f"- {r['label']}: paper {paper_dir[0]} file, {paper_dir[1]} PSNR; "
                     f"ours {ours[0]} ({r['bytes'] / final['bytes']:.2f}x), {ours[1]} "
                     f"({r['psnr'] - final['psnr']:+.2f} dB): {agree}.")
    lines += ["", "Per-attribute coding of the simulated attributes (bytes; learned model vs the best "
              "post-training model; the smaller is stored):", "",
              "| configuration | attribute | learned | post-training | stored |", "|---|---|---:|---:|---|"]
    for r in rows:
        for name, st in (r.get("sections") or {}).items():
            lines.append(f"| {r['label'].split(' (')[0]} | {name} | {st.get('learned_bytes', '-')} | "
                         f"{st.get('post_training_bytes', '-')} | {st.get('method')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--lambda", dest="lambda_rate", type=float, default=0.006)
    ap.add_argument("--quality", type=int, default=3)
    ap.add_argument("--only", type=int, nargs="*", help="row indices to run (default: all)")
    ap.add_argument("--out", default=str(RESULTS / "static_ablation"))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    ds = load_builtin(resolution=args.resolution)
    work = Path("runs") / "static_ablation"
    rows = []
    for i, (label, codec, sim) in enumerate(ROWS):
        if args.only and i not in args.only:
            continue
        print(f"[{i + 1}/{len(ROWS)}] {label} ...", flush=True)
        r = run_row(ds, label, codec, sim, args, work)
        print(f"    PSNR {r['psnr']:.2f} dB, {r['bytes']:,} B, {r['seconds']:.0f} s", flush=True)
        rows.append(r)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python bench/static_ablation.py " + " ".join(sys.argv[1:]),
            "iterations": args.iterations, "resolution": args.resolution, "lambda_rate": args.lambda_rate,
            "quality": args.quality, "loadavg_1min_end": round(os.getloadavg()[0], 2)}
    md = report(rows, meta)
    print(md)
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".md"), md)
    atomic_write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
