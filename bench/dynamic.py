"""Dynamic GSCodec on the built-in dynamic scene (GSCodec Studio Table III and Table VIII).

Rows, every one trained here in this run, on the same frames, scored on the held-out camera
(cam00) at every frame against the ray-traced ground truth:
  * STG uncompressed (no simulation), short and long GOF: every stored float as float32
    (the size STG's own checkpoints take), quality of the unquantized model;
  * Dynamic GSCodec at two λ (the paper's 0.02 and 0.01) for the short and the long GOF:
    coded to a .gsz and scored decoded from the file alone;
  * per-frame Static GSCodec (the naive baseline): a static scene trained and coded for a
    sample of frames; its sequence size is the mean per-frame size times the frame count;
  * Table VIII: polynomial motion + temporal opacity (the long-GOF STG row) against motion
    bases + constant opacity (same schedule), PSNR and parameter count.
Compute per row: `--iterations` per frame-group of the short GOF; the long GOF gets as many
iterations in total as all short GOFs together, so each row spends the same training.

    python bench/dynamic.py [--iterations 600] [--short-gof 10] [--resolution 96] [--frames 30]
Writes bench/results/dynamic.{md,json,png}; `--quick` is a tiny run (what the test runs).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import run_meta, write_results  # noqa: E402

from gscodec.train.spacetime import SpacetimeTrainConfig  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LAMBDAS = (0.02, 0.01)
FULL = {"iterations": 600, "short_gof": 10, "resolution": 96, "frames": 30, "static_frames": 3}
QUICK = {"iterations": 40, "short_gof": 3, "resolution": 32, "frames": 6, "static_frames": 1}
# GSCodec Studio Table III (Neural 3D Video, 300 frames) and Table VIII, for orientation
PUBLISHED = {"STG": (32.06, 157.60), "Ours (GOF=50, high)": (32.17, 13.50), "Ours (GOF=50, low)": (31.98, 12.15),
             "Ours (GOF=300, high)": (31.86, 5.06), "Ours (GOF=300, low)": (31.62, 4.49)}
TABLE_VIII = {"poly": (32.15, 3.6e6), "basis": (30.42, 11e6)}


def _scores(trainers) -> tuple[float, float]:
    """Mean test PSNR / SSIM over every test view of every GOF (unquantized models)."""
    ps, ss, w = 0.0, 0.0, 0
    for t in trainers:
        e = t.evaluate(simulated=False)
        k = len(t.test_views)
        ps, ss, w = ps + e["psnr"] * k, ss + e["ssim"] * k, w + k
    return ps / w, ss / w


def run_raw(ds, cfg: SpacetimeTrainConfig, label: str, progress: bool) -> dict:
    from gscodec.scene.spacetime import SpacetimeSequence
    from gscodec.train.dynamic_run import mbps, raw_bytes, train_gofs

    t0 = time.perf_counter()
    _, trainers = train_gofs(ds, cfg, progress)
    seconds = time.perf_counter() - t0
    psnr, ssim = _scores(trainers)
    row = {"label": label, "kind": "raw", "motion": cfg.motion, "gof": cfg.gof or ds.n_frames, "psnr": psnr,
           "ssim": ssim, "params": sum(t.model.parameter_count() for t in trainers),
           "splats": sum(len(t.model) for t in trainers), "train_seconds": seconds}
    if cfg.motion == "poly":
        seq = SpacetimeSequence([t.export() for t in trainers], ds.fps, ds.n_frames)
        row["bytes"] = raw_bytes(seq)
        row["mbps"] = mbps(row["bytes"], ds.n_frames, ds.fps)
    return row


def run_codec(ds, cfg: SpacetimeTrainConfig, lam: float, label: str, work: Path, progress: bool) -> dict:
    from gscodec.train.dynamic_run import train_and_compress_dynamic

    res = train_and_compress_dynamic(ds, cfg, work / label.replace(" ", "_").replace("=", ""),
                                     codec_config={"lambda_rate": lam}, progress=progress)
    m = res.metrics
    return {"label": label, "kind": "dynamic-gscodec", "lambda": lam, "gof": m["gof"], "psnr": m["compressed"]["psnr"],
            "ssim": m["compressed"]["ssim"], "psnr_before_coding": m["uncompressed"]["psnr"],
            "bytes": m["compressed"]["bytes"], "mbps": m["compressed"]["mbps"],
            "bytes_per_frame": m["compressed"]["bytes_per_frame"], "splats": m["splats"],
            "train_seconds": m["train_seconds"], "encode_seconds": m["encode_seconds"],
            "decode_seconds": m["decode_seconds"], "per_frame": m["per_frame"]}


def frame_dataset(ds, frame: int):
    """The static dataset of one frame: its cameras (train and test) and the points seen near it."""
    import numpy as np

    from gscodec.data.dataset import Dataset, PointCloud

    train, test = ds.frame_indices(frame, "train"), ds.frame_indices(frame, "test")
    ids = train + test
    p = ds.points
    near = np.ones(len(p.xyz), bool) if p.time is None else np.abs(p.time - frame / ds.fps) <= 3.0 / ds.fps
    sub = Dataset(cameras=[ds.cameras[i] for i in ids], points=PointCloud(p.xyz[near], p.rgb[near]),
                  background=ds.background, name=f"{ds.name}-frame{frame}",
                  _explicit_split=(list(range(len(train))), list(range(len(train), len(ids)))))
    sub._cache.update({k: ds.image(i) for k, i in enumerate(ids)})
    return sub


def run_per_frame_static(ds, frames: list[int], iterations: int, lam: float, work: Path, progress: bool) -> dict:
    import numpy as np

    from gscodec.train.config import TrainConfig
    from gscodec.train.run import train_and_compress

    per = []
    for f in frames:
        res = train_and_compress(frame_dataset(ds, f), TrainConfig(iterations=iterations, sh_degree=1),
                                 work / f"static_frame{f:04d}", codec="static-gscodec",
                                 codec_config={"lambda_rate": lam}, progress=progress)
        m = res.metrics
        per.append({"frame": f, "psnr": m["compressed"]["psnr"], "ssim": m["compressed"]["ssim"],
                    "bytes": m["compressed"]["bytes"], "train_seconds": m["train_seconds"]})
    mean_bytes = float(np.mean([r["bytes"] for r in per]))
    from gscodec.train.dynamic_run import mbps

    total = mean_bytes * ds.n_frames
    return {"label": f"per-frame Static GSCodec λ={lam} ({len(frames)} sampled frames)", "kind": "per-frame-static",
            "psnr": float(np.mean([r["psnr"] for r in per])), "ssim": float(np.mean([r["ssim"] for r in per])),
            "bytes": total, "mbps": mbps(total, ds.n_frames, ds.fps), "frames_sampled": frames, "per_frame": per,
            "train_seconds": sum(r["train_seconds"] for r in per)}


def summary_of(rows: list[dict]) -> dict:
    by = {r["label"]: r for r in rows}
    raw_s, raw_l = by["STG uncompressed, short GOF"], by["STG uncompressed, long GOF (poly + temporal opacity)"]
    hi_s, hi_l = by["Dynamic GSCodec λ=0.01, short GOF"], by["Dynamic GSCodec λ=0.01, long GOF"]
    static = next(r for r in rows if r["kind"] == "per-frame-static")
    basis = by["motion bases + constant opacity, long GOF"]
    return {
        "ratio_vs_raw_stg": raw_s["bytes"] / hi_s["bytes"],
        "psnr_delta_vs_raw_stg_db": hi_s["psnr"] - raw_s["psnr"],
        "ratio_vs_raw_stg_long_gof": raw_l["bytes"] / hi_l["bytes"],
        "long_over_short_gof_size": {f"{lam}": by[f"Dynamic GSCodec λ={lam}, long GOF"]["bytes"]
                                     / by[f"Dynamic GSCodec λ={lam}, short GOF"]["bytes"] for lam in LAMBDAS},
        "long_minus_short_gof_psnr_db": {f"{lam}": by[f"Dynamic GSCodec λ={lam}, long GOF"]["psnr"]
                                         - by[f"Dynamic GSCodec λ={lam}, short GOF"]["psnr"] for lam in LAMBDAS},
        "mbps": {r["label"]: r["mbps"] for r in rows if "mbps" in r},
        "per_frame_static_over_dynamic_size": static["bytes"] / hi_s["bytes"],
        "per_frame_static_psnr_db": static["psnr"], "dynamic_short_gof_psnr_db": hi_s["psnr"],
        "table_viii": {"poly_temporal_opacity": {"psnr": raw_l["psnr"], "ssim": raw_l["ssim"], "params": raw_l["params"]},
                       "basis_constant_opacity": {"psnr": basis["psnr"], "ssim": basis["ssim"], "params": basis["params"]}},
    }


def report(rows: list[dict], meta: dict) -> str:
    s = meta.get("summary", {})
    lines = [f"# Dynamic GSCodec on the built-in dynamic scene ({meta['scene']})", "",
             f"{meta['machine']}; {meta['date_utc']}; load {meta['loadavg_1min_end']} at the end; "
             f"git {meta['git_commit']}", f"Command: `{meta['command']}`", "",
             f"{meta['frames']} frames at {meta['fps']:g} fps, short GOF {meta['short_gof']} frames, long GOF "
             f"{meta['frames']} frames; {meta['iterations']} iterations per short GOF (the long GOF: the same total). "
             "PSNR / SSIM: the held-out camera at every frame against the ray-traced ground truth.", "",
             "| row | GOF | PSNR dB | SSIM | size | Mbps | splats | params | train s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = f"{r['bytes'] / 1024:,.1f} KiB" if "bytes" in r else "-"
        mb = f"{r['mbps']:.3f}" if "mbps" in r else "-"
        params = f"{r['params']:,}" if "params" in r else "-"
        splats = f"{r['splats']:,}" if "splats" in r else "-"
        lines.append(f"| {r['label']} | {r.get('gof', '-')} | {r['psnr']:.2f} | {r['ssim']:.4f} | {size} | {mb} | "
                     f"{splats} | {params} | "
                     f"{r['train_seconds']:.0f} |")
    if s:
        lines += ["", "## Goals", "",
                  f"- Dynamic GSCodec (λ=0.01, short GOF) vs uncompressed STG: **{s['ratio_vs_raw_stg']:.1f}x** smaller at "
                  f"**{s['psnr_delta_vs_raw_stg_db']:+.2f} dB** (goal: >= 10x at >= -0.3 dB; paper 11.7x at +0.11 dB); "
                  f"long GOF: {s['ratio_vs_raw_stg_long_gof']:.1f}x.",
                  "- Long over short GOF size: " + ", ".join(f"λ={k}: {v:.2f} ({1 / v:.1f}x smaller, "
                                                              f"{s['long_minus_short_gof_psnr_db'][k]:+.2f} dB)"
                                                              for k, v in s["long_over_short_gof_size"].items())
                  + " (goal: at least 2x smaller; paper 2.7x at -0.31 dB).",
                  f"- Per-frame Static GSCodec / Dynamic GSCodec size: **{s['per_frame_static_over_dynamic_size']:.1f}x** "
                  f"({s['per_frame_static_psnr_db']:.2f} dB vs {s['dynamic_short_gof_psnr_db']:.2f} dB).",
                  f"- Table VIII: poly + temporal opacity {s['table_viii']['poly_temporal_opacity']['psnr']:.2f} dB with "
                  f"{s['table_viii']['poly_temporal_opacity']['params']:,} params; motion bases + constant opacity "
                  f"{s['table_viii']['basis_constant_opacity']['psnr']:.2f} dB with "
                  f"{s['table_viii']['basis_constant_opacity']['params']:,} params (paper: 32.15 dB / 3.6 M vs "
                  "30.42 dB / 11 M)."]
    lines += ["", "Published (Neural 3D Video, GPU, 300 frames; PSNR dB / Mbps): "
              + "; ".join(f"{k} {v[0]:.2f} / {v[1]:.2f}" for k, v in PUBLISHED.items()) + "."]
    if meta.get("notes"):
        lines += ["", meta["notes"]]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        if "mbps" in r:
            ax.scatter(r["mbps"], r["psnr"], label=r["label"], s=36)
    ax.set_xscale("log")
    ax.set_xlabel("bitrate, Mbps (log)")
    ax.set_ylabel("test PSNR, dB")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=None, help="per short GOF (default 600; --quick 40)")
    ap.add_argument("--short-gof", type=int, default=None, help="frames (default 10; --quick 3)")
    ap.add_argument("--resolution", type=int, default=None, help="pixels (default 96; --quick 32)")
    ap.add_argument("--frames", type=int, default=None, help="default 30; --quick 6")
    ap.add_argument("--static-frames", type=int, default=None,
                    help="frames sampled for per-frame Static GSCodec (default 3; --quick 1)")
    ap.add_argument("--static-iterations", type=int, default=None, help="default: --iterations")
    ap.add_argument("--quick", action="store_true", help="a tiny run: 6 frames, 32 px, 40 iterations (options given win)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--work", default="runs/bench_dynamic")
    ap.add_argument("--notes", default=None)
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--from-json", default=None, help="rebuild the report from this run's rows JSON (no training)")
    a = ap.parse_args(argv)
    if a.from_json:
        saved = json.loads(Path(a.from_json).read_text())
        rows, meta = saved["rows"], saved["meta"]
        summary = {**summary_of(rows), "git_commit": meta["git_commit"]}
        out = Path(a.out) if a.out else RESULTS / "dynamic"
        return write_results(out, "rows", rows, meta, a.notes, plot, report, summary=summary)
    from gscodec.data.load import load_dataset

    defaults = QUICK if a.quick else FULL  # what the command line leaves unset
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    spec = f"builtin-dynamic:{a.resolution}"
    ds = load_dataset(spec, n_frames=a.frames)
    n_short = len(range(0, ds.n_frames, a.short_gof))
    short = SpacetimeTrainConfig(iterations=a.iterations, gof=a.short_gof)
    long = dataclasses.replace(short, iterations=a.iterations * n_short, gof=0)
    work, progress = Path(a.work), not a.no_progress
    rows = [run_raw(ds, short, "STG uncompressed, short GOF", progress),
            run_raw(ds, long, "STG uncompressed, long GOF (poly + temporal opacity)", progress)]
    for lam in LAMBDAS:
        rows.append(run_codec(ds, short, lam, f"Dynamic GSCodec λ={lam}, short GOF", work, progress))
        rows.append(run_codec(ds, long, lam, f"Dynamic GSCodec λ={lam}, long GOF", work, progress))
    rows.append(run_raw(ds, dataclasses.replace(long, motion="basis"), "motion bases + constant opacity, long GOF",
                        progress))
    step = max(ds.n_frames // a.static_frames, 1)
    frames = list(range(step // 2, ds.n_frames, step))[: a.static_frames]
    rows.append(run_per_frame_static(ds, frames, a.static_iterations or a.iterations, LAMBDAS[1], work, progress))
    meta = run_meta("dynamic.py", scene=ds.name, frames=ds.n_frames, fps=ds.fps, short_gof=a.short_gof,
                    iterations=a.iterations, resolution=a.resolution)
    work.mkdir(parents=True, exist_ok=True)  # the rows first, so a report error loses no training
    (work / "rows.json").write_text(json.dumps({"rows": rows, "meta": meta}, indent=1, default=str))
    summary = {**summary_of(rows), "git_commit": meta["git_commit"]}
    out = Path(a.out) if a.out else RESULTS / ("dynamic_quick" if a.quick else "dynamic")
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_results(out, "rows", rows, meta, a.notes, plot, report, summary=summary)


if __name__ == "__main__":
    sys.exit(main())
