"""Ablation of the compression-simulation options (GSCodec Studio, Table IV) on the built-in scene.

Rows: Static GSCodec's choice (noise + factorized + learnable mask), then one option switched
at a time (STE, hash-grid Gaussian model, gradient mask), and training without simulation
(plain 3DGS + our post-training codec at the same bit widths; the "w/o comp. sim." row of
Table VI). Component rows take one part of the simulation away (no rate term, no SH mask) or
use the paper's fixed 8 bits. An RD part adds two more λ for Static GSCodec and two more
post-training qualities (on the no-simulation training, not trained again) and gives the
BD-rate of Static GSCodec against 3DGS + ptc. Every trained row uses the same schedule and
seed, codes to a .gsz, decodes from the file alone and scores the test views against ground truth.

    python bench/static_ablation.py [--iterations 1000] [--lambda 0.006] [--resolution 128]
Writes bench/results/static_ablation.md, .json and .png (machine, date, config, per-row figures).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402
from common import START_COMMIT, load_results, run_meta, write_results  # noqa: E402

from gscodec.data.synthetic import load_builtin  # noqa: E402
from gscodec.demo import demo_train_config  # noqa: E402
from gscodec.train.run import train_and_compress  # noqa: E402
from gscodec.utils.provenance import same_code  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# label, codec, simulation overrides (None: train without simulation), codec config overrides,
# part of the report; a "reuse" row encodes the scene of an earlier row instead of training
ROWS = [
    dict(label="final (noise, factorized, learnable mask)", codec="static-gscodec", sim={}, part="ablation"),
    dict(label="STE instead of noise", codec="static-gscodec", sim={"quantization": "ste"}, part="ablation"),
    dict(label="hash-grid Gaussian model instead of factorized", codec="static-gscodec",
         sim={"entropy_model": "gaussian"}, part="ablation"),
    dict(label="gradient mask instead of learnable", codec="static-gscodec", sim={"mask": {"kind": "gradient"}},
         part="ablation"),
    dict(label="without compression simulation (3DGS + ptc)", codec="ptc", sim=None, part="ablation"),
    dict(label="no rate term (λ = 0: quantization + mask only)", codec="static-gscodec", sim={},
         config={"lambda_rate": 0.0}, part="component"),
    dict(label="no SH mask", codec="static-gscodec", sim={"mask": {"kind": "none"}}, part="component"),
    dict(label="8-bit simulation (the paper's width)", codec="static-gscodec",
         sim={"bits": {"quats": 8, "log_scales": 8, "opacity_logits": 8, "sh_dc": 8}}, part="component"),
    dict(label="Static GSCodec λ=0.002", codec="static-gscodec", sim={}, config={"lambda_rate": 0.002}, part="rd"),
    dict(label="Static GSCodec λ=0.02", codec="static-gscodec", sim={}, config={"lambda_rate": 0.02}, part="rd"),
    dict(label="3DGS + ptc quality 2", codec="ptc", sim=None, config={"quality": 2}, part="rd",
         reuse="without compression simulation (3DGS + ptc)"),
    dict(label="3DGS + ptc quality 4", codec="ptc", sim=None, config={"quality": 4}, part="rd",
         reuse="without compression simulation (3DGS + ptc)"),
    dict(label="without compression simulation, gsplat PNG layout (the paper's baseline)", codec="ptc", sim=None,
         config={"preset": "gsplat-png"}, part="ablation", reuse="without compression simulation (3DGS + ptc)"),
]
# Table IV of the paper (Tanks&Temples, GPU, 30k iterations): PSNR dB / size MB
PAPER = {"final": (23.74, 7.10), "STE": (23.47, 7.73), "hash-grid": (23.68, 8.01), "gradient": (23.62, 7.28),
         "without": (24.13, 14.0)}


SCHEDULE = "the 30k reference scaled (gscodec.train.schedule): densification for the first half, simulation after"


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:60]


def run_row(ds, row: dict, args, work: Path) -> dict:
    codec, sim = row["codec"], row["sim"]
    codec_config = {"quality": args.quality}
    if codec == "static-gscodec":
        codec_config["lambda_rate"] = args.lambda_rate
    codec_config.update(row.get("config", {}))
    t0 = time.perf_counter()
    if row.get("reuse"):  # another post-training setting on an earlier row's trained scene
        run = work / slug(row["reuse"])
        m = encode_trained(ds, run / "scene.ply", codec, codec_config)
        m["uncompressed"] = {"psnr": json.loads((run / "metrics.json").read_text())["uncompressed"]["psnr"]}
    else:
        base = demo_train_config(args.iterations)  # the simulation starts where densification stops
        cfg = dataclasses.replace(base, simulation=None if sim is None else {"start": base.refine_stop(), **sim})
        m = train_and_compress(ds, cfg, work / slug(row["label"]), codec=codec, codec_config=codec_config,
                               progress=False).metrics
    return {"label": row["label"], "part": row["part"], "codec": codec, "simulation": sim,
            "codec_config": codec_config, "psnr": m["compressed"]["psnr"], "ssim": m["compressed"]["ssim"],
            "lpips": m.get("lpips"), "bytes": m["compressed"]["bytes"], "uncompressed_psnr": m["uncompressed"]["psnr"],
            "decoded_splats": m["decoded_splats"], "seconds": time.perf_counter() - t0,
            "sections": m.get("codec_stats", {}).get("attributes"), "reuses": row.get("reuse")}


def encode_trained(ds, ply: Path, codec: str, codec_config: dict) -> dict:
    """Encode a trained scene with other settings, decode from the bytes, score the test views."""
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.eval.compare import score_on_dataset
    from gscodec.scene import load_ply

    data = get_codec(codec, **codec_config).encode(load_ply(ply))
    decoded = decode_bytes(data)
    return {"compressed": {**score_on_dataset(decoded, ds, ds.test_indices), "bytes": len(data)},
            "decoded_splats": len(decoded)}


def paper_key(label: str) -> str:
    for k in PAPER:
        if k in label:
            return k
    return "final"


def rd_curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Static GSCodec over λ and 3DGS + ptc over quality, each sorted by size."""
    static = [r for r in rows if r["codec"] == "static-gscodec" and (r["label"].startswith("final")
                                                                      or r["part"] == "rd")]
    ptc = [r for r in rows if r["codec"] == "ptc" and r["codec_config"].get("preset", "default") == "default"]
    return {"Static GSCodec (λ)": sorted(static, key=lambda r: r["bytes"]),
            "3DGS + ptc (quality)": sorted(ptc, key=lambda r: r["bytes"])}


def bd_args(rows: list[dict]) -> tuple | None:
    """(anchor rates, anchor PSNRs, test rates, test PSNRs) of Static GSCodec (test) against
    3DGS + ptc (anchor) for bd_rate / bd_psnr; None with fewer than 2 points on a curve."""
    (_, st), (_, pt) = rd_curves(rows).items()
    if len(st) < 2 or len(pt) < 2:
        return None
    return [r["bytes"] for r in pt], [r["psnr"] for r in pt], [r["bytes"] for r in st], [r["psnr"] for r in st]


def plot(rows: list[dict], path: Path) -> Path | None:
    try:
        from gscodec.eval.report import new_figure, save_figure
    except ImportError:
        return None
    fig = new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    on_curves = set()
    for name, pts in rd_curves(rows).items():
        ax.plot([r["bytes"] / 1e3 for r in pts], [r["psnr"] for r in pts], "o-", label=name)
        on_curves |= {r["label"] for r in pts}
    for r in rows:
        if r["label"] not in on_curves:
            ax.plot(r["bytes"] / 1e3, r["psnr"], "s", ms=5, label=r["label"])
    ax.set_xlabel("file size (KB)")
    ax.set_ylabel("PSNR on test views (dB)")
    ax.set_title("Static GSCodec options on the built-in scene (decoded from the file)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def _short(commit) -> str:
    return str(commit)[:7] if commit and str(commit) not in ("None", "not recorded") else "not recorded"


def report(rows: list[dict], meta: dict) -> str:
    from gscodec.metrics.bdrate import bd_psnr, bd_rate

    final = rows[0]
    lines = [
        "# Compression-simulation ablation (GSCodec Studio Table IV directions), built-in scene",
        "",
        f"Machine: {meta['machine']}; {meta['date_utc']}; command: `{meta['command']}`; load at the end "
        f"{meta['loadavg_1min_end']}; git {meta.get('git_commit', 'not recorded')}."
        + "".join(f" Rows kept by `--merge` from `{m['command']}` ({m['date_utc']}, git {m['git_commit']})."
                  for m in meta.get("merged_from", [])),
        f"Schedule: {meta['iterations']} iterations at {meta['resolution']}x{meta['resolution']}, "
        f"{meta.get('schedule', 'densification for the first 2/3, simulation after')}; λ = {meta['lambda_rate']} unless the row says; quality {meta['quality']} "
        "(positions, SH codebook and, for Static GSCodec, the simulated bit width: 7 bits) unless the row says. "
        "Test views against ground truth, decoded from the .gsz alone. *raw* = the trained model before coding.",
        "",
    ]
    commits = {_short(r.get("git_commit")) for r in rows}
    if len(commits) > 1 and same_code({r.get("git_commit") for r in rows}):
        lines += [f"Rows come from {len(commits)} commits ({', '.join(sorted(commits))}; column *git*) whose "
                  "code is identical: they differ only in bench/results (a run merged chunk by chunk, each "
                  "chunk committed before the next ran), so rows compare configurations.", ""]
    elif len(commits) > 1:  # a merged run: say so before anyone reads a ratio across two codebases
        lines += [f"**Rows come from {len(commits)} commits ({', '.join(sorted(commits))}; column *git*).** A "
                  "ratio or difference between rows of different commits compares two versions of the code, "
                  "not only two configurations: read them within one commit.", ""]
    lines += [
        "| configuration | PSNR (dB) | raw (dB) | SSIM | size (B) | size vs final | ΔPSNR vs final | splats kept "
        "| paper PSNR / MB | git |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for part, title in (("ablation", None), ("component", "*components*"), ("rd", "*more rate points*")):
        part_rows = [r for r in rows if r["part"] == part]
        if title and part_rows:
            lines.append(f"| {title} | | | | | | | | | |")
        for r in part_rows:
            p = PAPER[paper_key(r["label"])] if part == "ablation" else None
            lines.append(f"| {r['label']} | {r['psnr']:.2f} | {r['uncompressed_psnr']:.2f} | {r['ssim']:.4f} | "
                         f"{r['bytes']:,} | {r['bytes'] / final['bytes']:.2f}x | {r['psnr'] - final['psnr']:+.2f} | "
                         f"{r['decoded_splats']:,} | {f'{p[0]:.2f} / {p[1]:.2f}' if p else '-'} | "
                         f"{_short(r.get('git_commit'))} |")
    if meta.get("plot"):
        lines += ["", f"![RD view of the rows]({meta['plot']})"]
    lines += ["", "Directions of the paper (each alternative worse than the final choice in PSNR and size; "
              "no simulation: better PSNR, about 2x the size) against ours:", ""]
    for r in (r for r in rows[1:] if r["part"] == "ablation"):
        p, f = PAPER[paper_key(r["label"])], PAPER["final"]
        paper_dir = ("larger" if p[1] > f[1] else "smaller", "lower" if p[0] < f[0] else "higher")
        ratio, dp = r["bytes"] / final["bytes"], r["psnr"] - final["psnr"]
        ours = ("the same size" if abs(ratio - 1) < 0.005 else "larger" if ratio > 1 else "smaller",
                "the same PSNR" if abs(dp) < 0.01 else "lower" if dp < 0 else "higher")
        agree = ("agrees" if paper_dir == ours else "agrees in size" if paper_dir[0] == ours[0]
                 else "agrees in PSNR" if paper_dir[1] == ours[1] else "differs")
        lines.append(f"- {r['label']}: paper {paper_dir[0]} file, {paper_dir[1]} PSNR; "
                     f"ours {ours[0]} ({ratio:.3f}x), {ours[1]} ({dp:+.2f} dB): {agree}.")
    (sn, st), (pn, pt) = rd_curves(rows).items()
    args = bd_args(rows)
    if args is not None:
        br, bp = bd_rate(*args), bd_psnr(*args)
        lines += ["", f"RD: {sn} against {pn} ({len(st)} and {len(pt)} points): BD-rate "
                  f"{br.format('%') if br.ok else 'not computable (' + br.reason + ')'}, BD-PSNR "
                  f"{bp.format('dB') if bp.ok else 'not computable (' + bp.reason + ')'}"
                  f"{'; ' + '; '.join(br.warnings) if br.warnings else ''}."]
    lines += ["", "Per-attribute coding of the simulated attributes (bytes; learned model vs the best "
              "post-training model; the smaller whole is stored). *i.i.d. floor*: the symbols' own per-channel "
              "entropy, what no factorized model can beat; *as trained* / *refit*: the learned model's exact "
              "cost before and after refitting it to the final symbols; *side*: its weights, header entry and "
              "table rows, which travel only when it is used (rows from before the refit have only the first "
              "columns):", "",
              "| configuration | attribute | i.i.d. floor | as trained | refit | learned coded | side | "
              "post-training | stored |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]

    def b(st, k):
        return f"{st[k] / 8:.0f}" if isinstance(st.get(k), (int, float)) else "-"
    for r in rows:
        for name, st in (r.get("sections") or {}).items():
            lines.append(f"| {r['label'].split(' (')[0]} | {name} | {b(st, 'iid_entropy_bits')} | "
                         f"{b(st, 'trained_bits')} | {b(st, 'refit_bits')} | {st.get('learned_bytes', '-')} | "
                         f"{st.get('model_bytes', '-')} | {st.get('post_training_bytes', '-')} | {st.get('method')} |")
    if meta.get("notes"):
        lines += ["", "## Notes", "", meta["notes"]]
    return "\n".join(lines) + "\n"


def summary_of(rows: list[dict], meta: dict) -> dict:
    """The figures this ablation is read for: the final row, each alternative's size and PSNR
    against it, the BD-rate of Static GSCodec against 3DGS + ptc, and the commits the rows ran at."""
    from gscodec.metrics.bdrate import bd_rate

    final = rows[0]
    out = {"final_bytes": final["bytes"], "final_psnr": final["psnr"],
           "size_vs_final": {r["label"]: r["bytes"] / final["bytes"] for r in rows[1:]},
           "psnr_vs_final_db": {r["label"]: r["psnr"] - final["psnr"] for r in rows[1:]}}
    args = bd_args(rows)
    br = bd_rate(*args) if args is not None else None
    out["bd_rate_static_vs_ptc_pct"] = br.value if br is not None and br.ok else None
    out["git_commit"] = meta.get("git_commit")
    out["row_commits"] = sorted({str(r.get("git_commit")) for r in rows})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--lambda", dest="lambda_rate", type=float, default=0.006)
    ap.add_argument("--quality", type=int, default=3)
    ap.add_argument("--only", type=int, nargs="*", help="row indices to run (default: all)")
    ap.add_argument("--out", default=str(RESULTS / "static_ablation"))
    ap.add_argument("--notes", help="a text file whose contents go into the report's Notes section")
    ap.add_argument("--from-json", help="rebuild the report (and plot) from an earlier run's JSON, no training")
    ap.add_argument("--merge", help="an earlier run's JSON: its rows are kept where this run has none (rows of this "
                                    "run replace those of the same label); each row keeps its run's commit")
    args = ap.parse_args()
    out = Path(args.out)
    if args.from_json:
        rows, meta = load_results(args.from_json, "rows")
        return write_results(out, "rows", rows, meta, args.notes, plot, report, summary_of(rows, meta))
    torch.set_num_threads(os.cpu_count() or 1)
    ds = load_builtin(resolution=args.resolution)
    work = Path("runs") / "static_ablation"
    rows = []
    for i, row in enumerate(ROWS):
        if args.only and i not in args.only:
            continue
        print(f"[{i + 1}/{len(ROWS)}] {row['label']} ...", flush=True)
        r = run_row(ds, row, args, work)
        print(f"    PSNR {r['psnr']:.2f} dB, {r['bytes']:,} B, {r['seconds']:.0f} s", flush=True)
        rows.append({**r, "git_commit": START_COMMIT})
    meta = run_meta("static_ablation.py", iterations=args.iterations, schedule=SCHEDULE, resolution=args.resolution,
                    lambda_rate=args.lambda_rate, quality=args.quality)
    if args.merge:
        rows, meta = merge_rows(rows, meta, *load_results(args.merge, "rows"))
    return write_results(out, "rows", rows, meta, args.notes, plot, report, summary_of(rows, meta))


def merge_rows(rows: list[dict], meta: dict, earlier: list[dict], earlier_meta: dict) -> tuple[list[dict], dict]:
    """This run's rows over an earlier run's, in ROWS order; the earlier run's provenance is kept
    in meta['merged_from'] and on each of its rows (a merge is a command, never an edit by hand)."""
    for key in ("iterations", "resolution", "lambda_rate", "quality"):
        if earlier_meta.get(key) != meta.get(key):
            raise SystemExit(f"--merge: the earlier run has {key}={earlier_meta.get(key)!r}, this run "
                             f"{meta.get(key)!r}; rows of different settings are not merged")
    mine = {r["label"] for r in rows}
    old_commit = earlier_meta.get("git_commit", "not recorded")
    kept = [{**r, "git_commit": r.get("git_commit", old_commit)} for r in earlier if r["label"] not in mine]
    order = {row["label"]: i for i, row in enumerate(ROWS)}
    merged = sorted(kept + rows, key=lambda r: order.get(r["label"], len(order)))
    past = earlier_meta.get("merged_from", []) + [{k: earlier_meta.get(k) for k in ("command", "git_commit",
                                                                                     "date_utc")}]
    return merged, {**meta, "merged_from": past}


if __name__ == "__main__":
    raise SystemExit(main())
