"""Benchmark of the post-training compression building blocks (gsplat PNG-compression layout).

For each scene: 3D-to-2D sort time, mean grid-neighbour distance (random / Morton / ours), and the
total bytes of the per-attribute lossless images (means 16-bit, scales, opacity, quats, sh_dc
8-bit) in random vs Morton vs sorted order for PNG / WebP / JXL. Then k-means timings.

    python bench/sort_kmeans.py [--quick] [--kmeans-rows N] [--notes FILE]
Writes bench/results/sort_kmeans.md and .json (bench/common.py: meta with commit, command,
machine, load and date; rows of kind "sort" and "kmeans"; summary: sort seconds, PNG bytes of
our order over Morton's, k-means seconds, git_commit).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import load_results, run_meta, write_results  # noqa: E402
from gscodec.coding.image import available_methods, encode_image  # noqa: E402
from gscodec.coding.kmeans import kmeans, kmeans_assign  # noqa: E402
from gscodec.coding.sort import morton_grid_order, neighbour_distance, sort_into_grid, to_grid  # noqa: E402
from gscodec.scene import GaussianScene, load_ply  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def attributes(scene: GaussianScene) -> dict[str, np.ndarray]:
    """The attributes gsplat stores as images (quats sign-canonicalised, as they are decoded)."""
    q = scene.unit_quats
    q = torch.where(q[:, :1] < 0, -q, q)
    return {
        "means": scene.means.numpy(),
        "scales": scene.log_scales.numpy(),
        "opacity": scene.opacity_logits[:, None].numpy(),
        "quats": q.numpy(),
        "sh_dc": scene.sh_dc.numpy(),
    }


def quantise(v: np.ndarray, bits: int) -> np.ndarray:
    lo, hi = v.min(0), v.max(0)
    top = (1 << bits) - 1
    q = np.round((v - lo) / np.where(hi > lo, hi - lo, 1) * top)
    return q.astype(np.uint16 if bits > 8 else np.uint8)


def image_bytes(attrs: dict[str, np.ndarray], order: np.ndarray, side: int) -> dict[str, int]:
    """Total bytes per method over all attribute images (means: 16-bit; as hi/lo byte planes
    for WebP, which is 8-bit only)."""
    out = {}
    for m in available_methods():
        total = 0
        for name, v in attrs.items():
            img = to_grid(quantise(v, 16 if name == "means" else 8), order, side)
            if img.shape[-1] == 1:
                img = img[..., 0]
            if img.dtype == np.uint16 and m == "webp":
                planes = [(img >> 8).astype(np.uint8), (img & 255).astype(np.uint8)]
                total += sum(len(encode_image(p, m)[0]) for p in planes)
            else:
                total += len(encode_image(img, m)[0])
        out[m] = total
    return out


def sort_features(attrs: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([attrs[k] for k in ("means", "scales", "opacity", "quats", "sh_dc")], 1)


def bench_scene(name: str, scene: GaussianScene, images: bool = True, **sort_kw) -> dict:
    attrs = attributes(scene)
    feats = sort_features(attrs)
    fz = (feats - feats.mean(0)) / np.maximum(feats.std(0), 1e-8)
    n = len(scene)
    t = time.perf_counter()
    mort, side = morton_grid_order(attrs["means"])
    t_morton = time.perf_counter() - t
    t = time.perf_counter()
    ours, _ = sort_into_grid(feats, seed=0, **sort_kw)
    t_sort = time.perf_counter() - t
    rnd = np.random.default_rng(0).permutation(n)
    row = {
        "kind": "sort",
        "scene": name,
        "n": n,
        "sort_options": sort_kw or "defaults",
        "sort_s": round(t_sort, 2),
        "morton_s": round(t_morton, 3),
        "nbr": {k: round(neighbour_distance(fz, o, side), 4) for k, o in (("random", rnd), ("morton", mort), ("ours", ours))},
    }
    if images:
        row["bytes"] = {k: image_bytes(attrs, o, side) for k, o in (("random", rnd), ("morton", mort), ("ours", ours))}
        row["raw_bytes_8/16bit"] = int(n * (3 * 2 + 3 + 1 + 4 + 3))
    print(f"  {name}: n={n} sort {t_sort:.2f}s nbr {row['nbr']}", flush=True)
    if images:
        print(f"    bytes {row['bytes']}", flush=True)
    return row


def bench_kmeans(n: int, k: int, d: int = 45, **kw) -> dict:
    """SH-rest-like data: a smooth low-rank signal plus noise (random scenes' SH rest is pure noise)."""
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(8, d, generator=g)
    x = torch.randn(n, 8, generator=g) @ basis * 0.05 + torch.randn(n, d, generator=g) * 0.01
    t = time.perf_counter()
    c, labels = kmeans(x, k, seed=0, **kw)
    el = time.perf_counter() - t
    xn = x.numpy()
    mse = float(((xn - c[labels]) ** 2).sum(1).mean())
    sub = slice(0, min(n, 20000))
    exact = kmeans_assign(xn[sub], c)
    row = {
        "kind": "kmeans", "n": n, "k": k, "d": d, **kw, "seconds": round(el, 2), "mse": mse,
        "var": float(((xn - xn.mean(0)) ** 2).sum(1).mean()),
        "recall_vs_exact_assign": round(float((exact == labels[sub]).mean()), 4),
    }
    print(f"  kmeans {row}", flush=True)
    return row


KMEANS_FULL = [dict(n=100_000, k=4096), dict(n=1_000_000, k=4096, sample=262_144),
               dict(n=1_000_000, k=65536, sample=262_144, iters=5)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10k synthetic + small real only, 100k k-means")
    ap.add_argument("--kmeans-only", action="store_true", help="redo the k-means rows of the saved full results")
    ap.add_argument("--kmeans-rows", type=int, default=len(KMEANS_FULL),
                    help=f"run only the first N of the {len(KMEANS_FULL)} full k-means rows (the last is the longest)")
    ap.add_argument("--notes", help="a text file whose contents go into the report's Notes section")
    args = ap.parse_args()
    kmeans_specs = KMEANS_FULL[:1] if args.quick else KMEANS_FULL[:args.kmeans_rows]
    out = Path(__file__).resolve().parent / "results" / ("sort_kmeans_quick" if args.quick else "sort_kmeans")
    if args.kmeans_only:
        rows, meta = load_results(out.with_suffix(".json"), "rows")
        rows = [r for r in rows if r["kind"] != "kmeans"] + [bench_kmeans(**kw) for kw in kmeans_specs]
        meta["kmeans_rerun"] = run_meta("sort_kmeans.py")
        meta["kmeans_rows"] = f"{len(kmeans_specs)} of {len(KMEANS_FULL)}"
        return write_results(out, "rows", rows, meta, args.notes, lambda *_: None, report, summarize(rows, meta))
    warnings.simplefilter("ignore")
    sort_kmeans_warmup = sort_into_grid(np.random.rand(64, 3).astype(np.float32))  # numba compile
    del sort_kmeans_warmup
    rows = []
    print("sorting + images", flush=True)
    for n in (10_000,) if args.quick else (10_000, 100_000):
        rows.append(bench_scene(f"random_{n // 1000}k_sh3", GaussianScene.random(n, sh_degree=3)))
    for f in ("small_sh3.ply",) if args.quick else ("small_sh3.ply", "guitar.ply"):
        if (DATA / f).exists():
            rows.append(bench_scene(f, load_ply(DATA / f)))
    if not args.quick:
        # 1M with the faster preset (2 passes per radius, decay 0.9); defaults take ~2.5x longer
        rows.append(
            bench_scene("random_1M_sh0", GaussianScene.random(1_000_000), images=False, passes=2, radius_decay=0.9)
        )
    print("k-means", flush=True)
    rows += [bench_kmeans(**kw) for kw in kmeans_specs]
    meta = run_meta("sort_kmeans.py", quick=args.quick, torch_threads=torch.get_num_threads(),
                    kmeans_rows=f"{len(kmeans_specs)} of {len(KMEANS_FULL)}", methods=list(available_methods()))
    return write_results(out, "rows", rows, meta, args.notes, lambda *_: None, report, summarize(rows, meta))


def summarize(rows: list[dict], meta: dict) -> dict:
    """The headline figures; git_commit is the sort rows' run, kmeans_git_commit a --kmeans-only re-run's."""
    sorts = [r for r in rows if r["kind"] == "sort"]
    return {"sort_s": {r["scene"]: r["sort_s"] for r in sorts},
            "png_bytes_ours_over_morton": {r["scene"]: round(r["bytes"]["ours"]["png"] / r["bytes"]["morton"]["png"], 4)
                                           for r in sorts if "png" in r.get("bytes", {}).get("ours", {})},
            "kmeans_s": {f"{r['n']}x{r['k']}": r["seconds"] for r in rows if r["kind"] == "kmeans"},
            "git_commit": meta["git_commit"],
            **({"kmeans_git_commit": meta["kmeans_rerun"]["git_commit"]} if "kmeans_rerun" in meta else {})}


def report(rows: list[dict], meta: dict) -> str:
    methods = meta["methods"]
    lines = [
        "# 3D-to-2D sort, lossless attribute images, k-means",
        "",
        f"{meta['machine']} ({meta['torch_threads']} threads); {meta['date_utc']}; 1-minute load at the end "
        f"{meta['loadavg_1min_end']}; commit {meta['git_commit']}",
        f"`{meta['command']}`",
        "",
        "Neighbour distance: mean L2 between adjacent grid cells of the z-scored sort features",
        "(means, log-scales, opacity logit, quats, sh_dc). Bytes: total of the per-attribute lossless",
        "images (means 16-bit, the rest 8-bit, min-max quantised) in that order.",
        "",
        "| scene | N | sort s (options) | nbr random | nbr morton | nbr ours | "
        + " | ".join(f"{m} random | {m} morton | {m} ours" for m in methods)
        + " |",
        "|" + "---|" * (6 + 3 * len(methods)),
    ]
    for r in (r for r in rows if r["kind"] == "sort"):
        opt = "" if r["sort_options"] == "defaults" else " (" + ", ".join(f"{k}={v}" for k, v in r["sort_options"].items()) + ")"
        cells = [r["scene"], str(r["n"]), f"{r['sort_s']}{opt}", *(str(r["nbr"][k]) for k in ("random", "morton", "ours"))]
        for m in methods:
            cells += [str(r["bytes"][k][m]) if "bytes" in r else "-" for k in ("random", "morton", "ours")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"k-means rows: {meta['kmeans_rows']} (`--kmeans-rows`)."]
    if "kmeans_rerun" in meta:
        k = meta["kmeans_rerun"]
        lines += [f"k-means rows re-measured {k['date_utc']} (`{k['command']}`, commit {k['git_commit']}, "
                  f"load at the end {k['loadavg_1min_end']})."]
    lines += ["", "| k-means N | k | D | options | seconds | MSE / variance | recall vs exact |", "|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["kind"] == "kmeans"):
        opts = ", ".join(f"{k}={r[k]}" for k in ("sample", "iters", "exact") if k in r) or "defaults"
        lines.append(
            f"| {r['n']} | {r['k']} | {r['d']} | {opts} | {r['seconds']} | {r['mse'] / r['var']:.4f} | {r['recall_vs_exact_assign']} |"
        )
    if meta.get("notes"):
        lines += ["", "## Notes", "", meta["notes"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
