"""Decode time of anchor streams at scale: HEMGS (autoregressive context, 8 passes) against
HAC in the same run, on a ~100k-anchor scene (issue #16's goal: under 30 s on 2 CPU cores).

The scene: the built-in generator's surface cloud at N points (seed 5, not a training scene),
voxelized as Scaffold-GS does, with random attributes (features N(0,1), offsets N(0,0.3²),
log-scales jittered) so every symbol is coded; the entropy models are untrained (HAC's full
config: above 50k points). Decode time depends on the anchor count and the networks, not on
how well they are trained; the sizes here mean nothing and are not reported as results.

    python bench/anchor_decode_time.py [--points 130000] [--repeat 2]
Writes bench/results/anchor_decode_time.md and .json (summary: decode seconds per 10k anchors).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import run_meta, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
GOAL_SECONDS_100K = 30.0


def scene(points: int):
    from gscodec.data.dataset import PointCloud
    from gscodec.data.synthetic import _noise, sample_surface_points
    from gscodec.models.scaffold import ScaffoldModel

    rng = np.random.default_rng(5)
    pts, rgb = sample_surface_points(rng, _noise(rng), n=points)
    torch.manual_seed(5)
    m = ScaffoldModel.from_points(PointCloud(pts.astype(np.float32), rgb.astype(np.float32)), feat_dim=50, n_offsets=10)
    with torch.no_grad():
        m.features.normal_()
        m.offsets.normal_(0, 0.3)
        m.scaling.add_(0.3 * torch.randn_like(m.scaling))
    return m.to_anchor_scene(), m.voxel_size


def time_codec(name: str, sc, voxel: float, repeat: int) -> dict:
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.codecs.registry import codec_class

    cls = codec_class(name)
    model_class = cls.model_class
    em = model_class.for_scene(len(sc), sc.feat_dim, sc.n_offsets)
    a = sc.anchors
    em.set_bounds(a.min(0).values - 1e-3, a.max(0).values + 1e-3)
    if hasattr(em, "voxel"):
        em.voxel.fill_(voxel)
    sc.entropy_model = em
    codec = get_codec(name)
    t0 = time.perf_counter()
    data = codec.encode(sc)
    enc = time.perf_counter() - t0
    dec = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = decode_bytes(data)
        dec.append(time.perf_counter() - t0)
    n = len(out)
    return {"codec": name, "anchors": n, "encode_seconds": enc, "decode_seconds": min(dec), "decode_runs": dec,
            "decode_seconds_per_10k_anchors": 1e4 * min(dec) / n, "bytes": len(data)}


def report(rows: list[dict], meta: dict) -> str:
    sm = meta["summary"]
    lines = ["# Anchor stream decode time at scale (HEMGS vs HAC)", "",
             f"Machine: {meta['machine']}; {meta['date_utc']}; command: `{meta['command']}`; load at the end "
             f"{meta['loadavg_1min_end']}; torch threads {meta['threads']}. Untrained models, random attributes "
             "(module docstring): times only, sizes are not results. Decode = the whole `decode_bytes` (positions, "
             "masks, networks, hash grid, point encoder, neighbour selection, every coding unit); the best of "
             f"{meta['repeat']} runs.", "",
             "| codec | anchors | encode s | decode s | decode s / 10k anchors |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['codec']} | {r['anchors']:,} | {r['encode_seconds']:.1f} | {r['decode_seconds']:.1f} | "
                     f"{r['decode_seconds_per_10k_anchors']:.2f} |")
    lines += ["", f"- HEMGS / HAC decode time: {sm['hemgs_over_hac_decode']:.2f}",
              f"- HEMGS decode of a 100k-anchor stream (scaled linearly from {sm['anchors']:,}): "
              f"{sm['hemgs_decode_seconds_100k']:.1f} s (goal < {GOAL_SECONDS_100K:.0f} s: "
              f"{'met' if sm['goal_met'] else 'not met'})", f"- commit: {sm['git_commit']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=130_000, help="cloud size (about 0.9 anchors per point)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "anchor_decode_time"))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    sc, voxel = scene(args.points)
    rows = []
    for name in ("hac", "hemgs"):
        print(f"{name} ...", flush=True)
        rows.append(time_codec(name, sc, voxel, args.repeat))
        print(f"    decode {rows[-1]['decode_seconds']:.1f} s for {rows[-1]['anchors']:,} anchors", flush=True)
    by = {r["codec"]: r for r in rows}
    meta = run_meta("anchor_decode_time.py", threads=torch.get_num_threads(), repeat=args.repeat)
    per10k = by["hemgs"]["decode_seconds_per_10k_anchors"]
    summary = {"anchors": by["hemgs"]["anchors"], "decode_seconds_per_10k_anchors": per10k,
               "hac_decode_seconds_per_10k_anchors": by["hac"]["decode_seconds_per_10k_anchors"],
               "hemgs_over_hac_decode": by["hemgs"]["decode_seconds"] / by["hac"]["decode_seconds"],
               "hemgs_decode_seconds_100k": 10 * per10k, "goal_met": 10 * per10k < GOAL_SECONDS_100K,
               "git_commit": meta["git_commit"]}
    return write_results(Path(args.out), "rows", rows, meta, None, lambda *_: None, report, summary)


if __name__ == "__main__":
    raise SystemExit(main())
