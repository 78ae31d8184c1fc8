"""The report of bench/anchor_codecs.py: the Markdown tables (points, matched-PSNR lines,
BD-rate of every codec against HAC beside the papers' published figures, storage groups,
coded vs estimated bits, times) and the RD plot (PSNR and SSIM against size)."""
from __future__ import annotations

import math
from pathlib import Path

from anchor_entries import CODECS, FIXED_GROUPS, METHODS, PUBLISHED, REFERENCE, SCHEDULE_BEFORE


def size_at(points: list[dict], psnr: float) -> float | None:
    """log-size interpolated linearly in PSNR between the two nearest points; None outside."""
    pts = sorted(points, key=lambda p: p["psnr"])
    for a, b in zip(pts, pts[1:]):
        if a["psnr"] <= psnr <= b["psnr"] and b["psnr"] > a["psnr"]:
            t = (psnr - a["psnr"]) / (b["psnr"] - a["psnr"])
            return math.exp((1 - t) * math.log(a["bytes"]) + t * math.log(b["bytes"]))
    return None


def matched_psnr_lines(ref: list[dict], pts: list[dict], other: str) -> list[str]:
    """One line per reference point: the size ratio at matched PSNR where the other curve spans
    that PSNR, else whether a point of the other codec is dominated (more bytes AND lower PSNR)."""
    lines = []
    for r in ref:
        s = size_at(pts, r["psnr"])
        head = f"- {REFERENCE} λ={r['lambda']} ({r['psnr']:.2f} dB, {r['bytes']:,} B)"
        if s is not None:
            lines.append(f"{head}: {other} interpolated at the same PSNR {s:,.0f} B: ratio {r['bytes'] / s:.2f}.")
            continue
        lo, hi = min(p["psnr"] for p in pts), max(p["psnr"] for p in pts)
        beaten = [p for p in pts if p["bytes"] >= r["bytes"] and p["psnr"] <= r["psnr"]]
        where = "above" if r["psnr"] > hi else "below"
        if beaten:
            b = min(beaten, key=lambda p: p["bytes"])
            lines.append(f"{head}: {where} {other}'s PSNR span ({lo:.2f}-{hi:.2f} dB); it dominates {other} "
                         f"λ={b['lambda']} ({b['psnr']:.2f} dB, {b['bytes']:,} B): {r['bytes'] / b['bytes']:.2f} of "
                         f"its size at {r['psnr'] - b['psnr']:+.2f} dB.")
        else:
            near = min(pts, key=lambda p: abs(p["psnr"] - r["psnr"]))
            lines.append(f"{head}: {where} {other}'s PSNR span ({lo:.2f}-{hi:.2f} dB) and dominates none of its "
                         f"points (nearest: λ={near['lambda']}, {near['psnr']:.2f} dB, {near['bytes']:,} B).")
    return lines


def plot(points: list[dict], path: Path, title: str = "the built-in scene") -> Path | None:
    """RD curves, PSNR and SSIM against size, one line per codec; the raw Scaffold sizes as crosses."""
    try:
        from matplotlib.ticker import FuncFormatter

        from gscodec.eval.report import new_figure, save_figure
    except ImportError:
        return None
    fig = new_figure(11.5, 4.4)
    for i, metric in enumerate(("psnr", "ssim")):
        ax = fig.add_subplot(1, 2, i + 1)
        for label in dict.fromkeys(p["label"] for p in points):
            pts = sorted((p for p in points if p["label"] == label), key=lambda p: p["bytes"])
            ax.plot([p["bytes"] / 1e3 for p in pts], [p[metric] for p in pts], "o-", label=label)
            for p in pts if metric == "psnr" else ():
                tag = f"q={p['lambda']}" if p.get("rate_param") == "quality" else f"λ={p['lambda']}"
                ax.annotate(tag, (p["bytes"] / 1e3, p[metric]), fontsize=6, xytext=(4, -9), textcoords="offset points")
        raw = [p for p in points if "raw_bytes" in p]
        if raw and metric == "psnr":
            ax.plot([p["raw_bytes"] / 1e3 for p in raw], [p["psnr_before_coding"] for p in raw], "x", color="grey",
                    label="same Scaffold model, raw (unquantized)")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
        ax.set_xlabel("file size (KB, log scale)")
        ax.set_ylabel({"psnr": "PSNR", "ssim": "SSIM"}[metric] + " on test views")
        ax.grid(True, which="both", alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"Anchor codecs on {title} (decoded from the file)")
    fig.tight_layout()
    return save_figure(fig, path)


def _res(r) -> str:
    return f"{r}x{r}" if isinstance(r, int) else str(r)


def report(points: list[dict], meta: dict) -> str:
    labels = " vs ".join(dict.fromkeys(p["label"] for p in points))
    lines = [f"# Anchor codecs on {scene_title(meta, '`')} ({labels} vs raw Scaffold-GS)", "",
             f"Machine: {meta['machine']}; {meta['date_utc']}; command: `{meta['command']}`; load at the end "
             f"{meta['loadavg_1min_end']}."
             + "".join(f" Points added to those of `{m['command']}` ({m['date_utc']}, commit {str(m['git_commit'])[:12]})."
                       for m in meta.get("merged_from") or []),
             f"Budget: {meta['iterations']} training iterations per point at {_res(meta['resolution'])}"
             f"{', ' + meta['views'] + ' views, ' + format(meta['initial_points'], ',') + ' initial points' if 'views' in meta else ''}"
             f" ({meta.get('schedule', SCHEDULE_BEFORE)}). Test views against "
             "ground truth, every .gsz decoded from the file alone.", "",
             "Columns: *as trained* = the model rendered the way training evaluates it (attributes rounded to "
             "their steps, float32 MLPs); *unquantized* = the same model with raw float attributes, which is what "
             "`scaffold-raw` stores; *PLY export* = the decoded anchors turned into a standard 3DGS PLY by the SH fit.",
             "",
             "| codec | λ | PSNR (dB) | SSIM | size (B) | as trained (dB) | unquantized (dB) | raw Scaffold (B) | "
             "raw / coded | PLY export (dB, fit loss) | train s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        raw = f"{p['raw_bytes']:,}" if "raw_bytes" in p else "-"
        ratio = f"{p['raw_bytes'] / p['bytes']:.1f}x" if "raw_bytes" in p else "-"
        exp = f"{p['export_psnr']:.2f} ({p['export_fit_loss_db']:.2f})" if "export_psnr" in p else "-"
        trained = f"{p['psnr_as_trained']:.2f}" if p.get("psnr_as_trained") is not None else "-"
        rate = f"q{p['lambda']}" if p.get("rate_param") == "quality" else p["lambda"]
        lines.append(f"| {p['label']} | {rate} | {p['psnr']:.2f} | {p['ssim']:.4f} | {p['bytes']:,} | "
                     f"{trained} | {p['psnr_before_coding']:.2f} | {raw} | {ratio} | {exp} | {p['train_seconds']:.0f} |")
    if meta.get("plot"):
        lines += ["", f"![RD curves]({meta['plot']})"]
    ref = [p for p in points if p["label"] == REFERENCE]
    lines += ["", f"## {REFERENCE} against the others at matched PSNR", ""]
    for other in sorted({p["label"] for p in points} - {REFERENCE}):
        lines += matched_psnr_lines(ref, [p for p in points if p["label"] == other], other)
    for r in ref:
        if "raw_bytes" in r:
            lines.append(f"- {REFERENCE} λ={r['lambda']} vs the same model stored raw (scaffold-raw, "
                         f"{r['psnr_before_coding']:.2f} dB unquantized): {r['bytes'] / r['raw_bytes']:.3f} of its size "
                         f"({r['raw_bytes'] / r['bytes']:.1f}x smaller) at {r['psnr'] - r['psnr_before_coding']:+.2f} dB.")
    lines += versus_lines((meta.get("summary") or {}).get("versus_hac") or {})
    anchored = [p for p in points if "raw_bytes" in p and p.get("groups")]
    lines += ["", "## Where the anchor codecs' bytes go (storage groups, as `gscodec info` shows them)", ""]
    if anchored:
        names = list(dict.fromkeys(g["group"] for p in anchored for g in p["groups"]))
        lines += ["| codec | λ | " + " | ".join(names) + " | total |", "|---|---:|" + "---:|" * (len(names) + 1)]
        for r in anchored:
            by = {g["group"]: g for g in r.get("groups") or []}
            cells = [f"{by[n]['bytes']:,} ({100 * by[n]['share']:.0f}%)" if n in by else "-" for n in names]
            lines.append(f"| {r['label']} | {r['lambda']} | " + " | ".join(cells) + f" | {r['bytes']:,} |")
    lines += ["", "## Coded vs estimated bits of the entropy-coded attributes", ""]
    for r in [p for p in points if "raw_bytes" in p]:
        if r.get("bits"):
            parts = ", ".join(f"{g} coded {b['coded']:,} vs estimated {b['estimated']:,.0f} bits "
                              f"({100 * (b['coded'] / b['estimated'] - 1):+.2f}%)" for g, b in r["bits"].items())
            lines.append(f"- {r['label']} λ={r['lambda']}: {parts}")
    sm, plain = meta.get("summary"), meta.get("plain_3dgs")
    if plain:
        lines += ["", f"Plain 3DGS on the same schedule (ptc): {plain['psnr_uncompressed']:.2f} dB unquantized, "
                  f"{plain['psnr']:.2f} dB decoded, {plain['bytes']:,} B, {plain['splats']:,} splats."]
    if sm:
        fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
        lines += ["", "## Summary", "",
                  f"- HAC / Static GSCodec size at matched PSNR: {fmt(sm['hac_over_static_size_at_matched_psnr'], '.2f')}",
                  f"- largest coded over estimated bits: {fmt(sm['max_coded_over_estimated_pct'], '+.2f')}%",
                  f"- Scaffold-GS unquantized minus plain 3DGS: {fmt(sm['scaffold_minus_3dgs_psnr_db'], '+.2f')} dB",
                  ]
        for m in METHODS:
            ms = sm.get(m)
            if not ms:
                continue
            label = next((e["label"] for e in CODECS if e["codec"] == m), m)
            lines += [f"- {label} feature group / HAC's feature group at the same λ: "
                      f"{fmt(ms['feature_group_ratio_vs_hac'], '.2f')} (by λ: " + ", ".join(
                          f"{k}: {v:.2f}" for k, v in ms["feature_group_ratio_vs_hac_by_lambda"].items()) + ")",
                      f"- {label} BD-rate against HAC: {pct(ms['bd_rate_vs_hac_pct'])} of the whole file, "
                      f"{pct(ms['bd_rate_vs_hac_without_fixed_cost_pct'])} without the fixed cost "
                      f"({', '.join(FIXED_GROUPS)}){' — ' + ms['bd_rate_vs_hac_note'] if ms.get('bd_rate_vs_hac_note') else ''}",
                      f"- {label} / HAC size at matched PSNR: {fmt(ms['size_over_hac_at_matched_psnr'], '.2f')}"]
            if "decode_seconds_per_10k_anchors" in ms:
                lines.append(f"- {label} decode: {ms['decode_seconds_per_10k_anchors']:.2f} s per 10k anchors "
                             "(these streams, 2 CPU cores)")
            if "single_vs_per_lambda_bd_rate_pct" in ms:
                lines.append(f"- {label} one model (trained once, coded at every λ) against one model per λ: BD-rate "
                             f"{pct(ms['single_vs_per_lambda_bd_rate_pct'])}"
                             f"{' — ' + ms['single_vs_per_lambda_note'] if ms.get('single_vs_per_lambda_note') else ''}"
                             f"; training time {fmt(ms['single_over_per_lambda_train_time'], '.2f')} of theirs")
            for lam, w in (ms.get("gate_weights_by_lambda") or {}).items():
                lines.append(f"- {label} λ={lam} mean gate weights: " + ", ".join(f"{v:.3f}" for v in w))
        lines += [f"- commit: {sm.get('git_commit')}"]
    if meta.get("notes"):
        lines += ["", "## Notes", "", meta["notes"]]
    return "\n".join(lines) + "\n"


def scene_title(meta: dict, quote: str = "") -> str:
    scene = meta.get("scene", "builtin")
    return "the built-in scene" if scene == "builtin" else f"{quote}{scene}{quote}"


def plot_for(meta: dict):
    return lambda points, path: plot(points, path, scene_title(meta))


def versus_lines(vs: dict) -> list[str]:
    """Every codec against HAC in this run, beside the paper's own figure (its data, not ours)."""
    if not vs:
        return []
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    lines = ["", f"## Every codec against {REFERENCE} (this run: same scene, schedule and decoder)", "",
             "BD-rate of the whole file (PCHIP over the PSNR interval both curves cover; n/a with the reason "
             "when there is none). The last column is the paper's own claim on its own datasets, for "
             "reference only.", "",
             "| codec | points | BD-rate vs HAC | PSNR interval (dB) | size / HAC at matched PSNR | train s (all points) "
             "| encode s (mean) | decode s (mean) | note | published (paper's data) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---|---|"]
    for label, v in vs.items():
        iv = v.get("psnr_interval")
        lines.append(f"| {label} | {v['points']} | {pct(v['bd_rate_vs_hac_pct'])} | "
                     f"{f'{iv[0]:.2f}-{iv[1]:.2f}' if iv else '-'} | {fmt(v['size_over_hac_at_matched_psnr'], '.2f')} | "
                     f"{v['train_seconds']:.0f} | {v['encode_seconds_mean']:.1f} | {v['decode_seconds_mean']:.1f} | "
                     f"{v['note'] or ''} | {PUBLISHED.get(label, '-')} |")
    return lines


def pct(v) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"

