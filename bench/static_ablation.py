"""Ablation of the compression-simulation options (GSCodec Studio, Table IV) on the built-in
scene: the report plug-in of the bench spec `bench/specs/static_ablation.toml`.

The spec holds the rows (Static GSCodec's choice, each option switched in its own codec entry,
training without simulation, component rows, the two RD curves); `gscodec bench` runs them
(resumable, one record per job, with commit, command, machine and load) and `gscodec report`
writes the standard report, into which this module adds the ablation's own parts: the rows
against the final choice with the paper's Table IV beside them, the directions of the paper
against ours, the BD-rate of Static GSCodec against 3DGS + ptc, and the per-attribute coding of
the learned entropy models; `summary()` gives the figures of summary.json.

    gscodec bench bench/specs/static_ablation.toml      # or: python bench/static_ablation.py
    gscodec report bench/results/static_ablation/results.jsonl --plugin bench/static_ablation.py
"""
from __future__ import annotations

import sys
from pathlib import Path

SPEC = Path(__file__).resolve().parent / "specs" / "static_ablation.toml"
STATIC, PTC = "Static GSCodec", "3DGS + ptc"  # the spec's two RD curves
FINAL_LAMBDA, FINAL_QUALITY = 0.006, 3  # their points that are also ablation rows

# (codec label in the spec, rate or None) -> (row label, part of the report), in the report's order
ROWS = {
    (STATIC, FINAL_LAMBDA): ("final (noise, factorized, learnable mask)", "ablation"),
    ("STE instead of noise", None): ("STE instead of noise", "ablation"),
    ("hash-grid Gaussian model instead of factorized", None):
        ("hash-grid Gaussian model instead of factorized", "ablation"),
    ("gradient mask instead of learnable", None): ("gradient mask instead of learnable", "ablation"),
    (PTC, FINAL_QUALITY): ("without compression simulation (3DGS + ptc)", "ablation"),
    ("gsplat PNG layout without simulation", None):
        ("without compression simulation, gsplat PNG layout (the paper's baseline)", "ablation"),
    ("no rate term", None): ("no rate term (λ = 0: quantization + mask only)", "component"),
    ("no SH mask", None): ("no SH mask", "component"),
    ("8-bit simulation", None): ("8-bit simulation (the paper's width)", "component"),
    (STATIC, 0.002): ("Static GSCodec λ=0.002", "rd"),
    (STATIC, 0.02): ("Static GSCodec λ=0.02", "rd"),
    (PTC, 2): ("3DGS + ptc quality 2", "rd"),
    (PTC, 4): ("3DGS + ptc quality 4", "rd"),
}
# Table IV of the paper (Tanks&Temples, GPU, 30k iterations): PSNR dB / size MB
PAPER = {"final": (23.74, 7.10), "STE": (23.47, 7.73), "hash-grid": (23.68, 8.01), "gradient": (23.62, 7.28),
         "without": (24.13, 14.0)}
PLOT_NAME = "static_ablation.png"


def _row(r: dict, label: str, part: str) -> dict:
    return {"label": label, "part": part, "entry": r["codec"], "codec": r.get("codec_name"),
            "codec_config": r.get("codec_config", {}), "psnr": r["psnr"], "ssim": r["ssim"], "lpips": r.get("lpips"),
            "bytes": r["bytes"], "uncompressed_psnr": (r.get("uncompressed") or {}).get("psnr"),
            "decoded_splats": r.get("splats"), "sections": r.get("attribute_coding"), "git_commit": r.get("git_commit")}


def rows_of(records: list[dict]) -> list[dict]:
    """The ablation's rows from a run's successful records, in ROWS order; an entry the table
    does not name follows as part 'other' (a spec edited without this plug-in still shows it)."""
    recs = {(r["codec"], r.get("rate")): r for r in records if r.get("status") == "ok"}
    rows = [_row(recs[k], *v) for k, v in ROWS.items() if k in recs]
    rows += [_row(r, f"{k[0]}" + ("" if k[1] is None else f" {r.get('rate_param')}={k[1]}"), "other")
             for k, r in recs.items() if k not in ROWS]
    return rows


def paper_key(label: str) -> str:
    for k in PAPER:
        if k in label:
            return k
    return "final"


def rd_curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Static GSCodec over λ and 3DGS + ptc over quality, each sorted by size."""
    return {"Static GSCodec (λ)": sorted((r for r in rows if r["entry"] == STATIC), key=lambda r: r["bytes"]),
            "3DGS + ptc (quality)": sorted((r for r in rows if r["entry"] == PTC), key=lambda r: r["bytes"])}
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


def ablation_lines(rows: list[dict], plot_name: str | None = None) -> list[str]:
    """The ablation's Markdown: rows against the final choice beside Table IV, the paper's
    directions against ours, Static GSCodec's BD-rate against 3DGS + ptc, per-attribute coding."""
    from gscodec.metrics.bdrate import bd_psnr, bd_rate

    head = ["## Compression-simulation ablation (GSCodec Studio Table IV directions)", ""]
    final = next((r for r in rows if r["part"] == "ablation" and r["label"].startswith("final")), None)
    if final is None:
        return head + [f"No result for the final choice ({STATIC}, λ = {FINAL_LAMBDA}) yet: no rows to compare.", ""]
    lines = head + [
        f"λ = {FINAL_LAMBDA}, quality {FINAL_QUALITY} (positions, SH codebook and, for Static GSCodec, the simulated "
        "bit width: 7 bits) unless the row says. Test views against ground truth, decoded from the .gsz alone. "
        "*raw* = the trained model before coding.", "",
        "| configuration | PSNR (dB) | raw (dB) | SSIM | size (B) | size vs final | ΔPSNR vs final | splats kept "
        "| paper PSNR / MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for part, title in (("ablation", None), ("component", "*components*"), ("rd", "*more rate points*"),
                        ("other", "*other entries*")):
        part_rows = [r for r in rows if r["part"] == part]
        if title and part_rows:
            lines.append(f"| {title} | | | | | | | | |")
        for r in part_rows:
            p = PAPER[paper_key(r["label"])] if part == "ablation" else None
            raw = "-" if r["uncompressed_psnr"] is None else f"{r['uncompressed_psnr']:.2f}"
            lines.append(f"| {r['label']} | {r['psnr']:.2f} | {raw} | {r['ssim']:.4f} | {r['bytes']:,} | "
                         f"{r['bytes'] / final['bytes']:.2f}x | {r['psnr'] - final['psnr']:+.2f} | "
                         f"{r['decoded_splats']:,} | {f'{p[0]:.2f} / {p[1]:.2f}' if p else '-'} |")
    if plot_name:
        lines += ["", f"![RD view of the rows]({plot_name})"]
    lines += ["", "Directions of the paper (each alternative worse than the final choice in PSNR and size; "
              "no simulation: better PSNR, about 2x the size) against ours:", ""]
    for r in (r for r in rows if r["part"] == "ablation" and r is not final):
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
              "table rows, which travel only when it is used:", "",
              "| configuration | attribute | i.i.d. floor | as trained | refit | learned coded | side | "
              "post-training | stored |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]

    def b(st, k):
        return f"{st[k] / 8:.0f}" if isinstance(st.get(k), (int, float)) else "-"
    for r in rows:
        for name, st in (r.get("sections") or {}).items():
            lines.append(f"| {r['label'].split(' (')[0]} | {name} | {b(st, 'iid_entropy_bits')} | "
                         f"{b(st, 'trained_bits')} | {b(st, 'refit_bits')} | {st.get('learned_bytes', '-')} | "
                         f"{st.get('model_bytes', '-')} | {st.get('post_training_bytes', '-')} | {st.get('method')} |")
    return lines


def summary_of(rows: list[dict]) -> dict:
    """The figures this ablation is read for: the final row, each alternative's size and PSNR
    against it, the BD-rate of Static GSCodec against 3DGS + ptc, and the commits the rows ran at."""
    from gscodec.metrics.bdrate import bd_rate

    final = next((r for r in rows if r["part"] == "ablation" and r["label"].startswith("final")), None)
    if final is None:
        return {"final_bytes": None, "row_commits": sorted({str(r.get("git_commit")) for r in rows})}
    others = [r for r in rows if r is not final]
    out = {"final_bytes": final["bytes"], "final_psnr": final["psnr"],
           "size_vs_final": {r["label"]: r["bytes"] / final["bytes"] for r in others},
           "psnr_vs_final_db": {r["label"]: r["psnr"] - final["psnr"] for r in others}}
    args = bd_args(rows)
    br = bd_rate(*args) if args is not None else None
    out["bd_rate_static_vs_ptc_pct"] = br.value if br is not None and br.ok else None
    out["row_commits"] = sorted({str(r.get("git_commit")) for r in rows})
    return out


# ---- the report plug-in protocol (gscodec.eval.report.load_plugin) ---------------------
def sections(res, out: Path) -> list[str]:
    rows = rows_of(res.all)
    fig = plot(rows, Path(out) / PLOT_NAME) if rows else None
    return ablation_lines(rows, fig.name if fig else None)


def summary(res) -> dict:
    return summary_of(rows_of(res.all))


def main() -> int:
    """`gscodec bench` on the spec, then its report: the same as the two commands above, run
    from the repository root (the spec's paths are relative to it)."""
    import os

    root = Path(__file__).resolve().parents[1]
    os.chdir(root)
    sys.path.insert(0, str(root))
    from gscodec.eval.harness import load_spec, run_bench
    from gscodec.eval.report import build_report

    spec = load_spec(SPEC)
    summ = run_bench(spec, progress=False)
    print(f"report: {build_report(summ['results'], plugin=spec.report)}")
    return 1 if summ["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
