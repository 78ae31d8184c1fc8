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
import math
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import load_results, run_meta, write_results  # noqa: E402

from gscodec.codecs.info import gsz_summary  # noqa: E402
from gscodec.data.load import load_dataset  # noqa: E402
from gscodec.data.synthetic import load_builtin  # noqa: E402
from gscodec.demo import demo_train_config  # noqa: E402
from gscodec.train.run import train_and_compress  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# one entry per codec; "anchors" codecs train Scaffold-GS (+ their entropy model), "gaussians"
# codecs train 3DGS with compression simulation
CODECS = [
    {"label": "HAC", "codec": "hac", "lambdas": [0.002, 0.004, 0.008]},
    {"label": "Static GSCodec", "codec": "static-gscodec", "lambdas": [0.002, 0.01, 0.03]},
    {"label": "Predict-GS", "codec": "predict-gs", "lambdas": [0.002, 0.004, 0.008]},
    {"label": "MoP", "codec": "mop", "lambdas": [0.002, 0.004, 0.008]},
    # one model trained for all λ (at the middle one), coded at each without retraining
    {"label": "HEMGS", "codec": "hemgs", "lambdas": [0.002, 0.004, 0.008], "single_model": True},
    {"label": "HEMGS per-λ", "codec": "hemgs", "lambdas": [0.002, 0.004, 0.008], "per_lambda": True},
    # Predict-GS's features + HEMGS's entropy model with MoP's mixture (gscodec.codecs.combined)
    {"label": "Combined", "codec": "combined", "lambdas": [0.002, 0.004, 0.008], "single_model": True},
]
METHODS = ("predict-gs", "mop", "hemgs", "combined")  # anchor methods summarized against HAC (#14-#17)
REFERENCE = "HAC"
SCHEDULE = "both 30k schedules scaled by gscodec.train.schedule; 3DGS as the demo, capped at 25k splats"
SCHEDULE_BEFORE = "HAC's 30k schedule scaled; 3DGS: the demo's schedule scaled"  # results made before the rule


def entry_options(entry: dict, lam: float) -> dict:
    """The codec options of one point (a per-λ HEMGS model is trained for its λ alone)."""
    return {**entry.get("options", {}), **({"lambdas": [lam]} if entry.get("per_lambda") else {})}


def run_point(ds, entry: dict, lam: float, args, work: Path, train_options: dict | None = None) -> dict:
    """One training + coding run; train_options: codec options of this run only (not an
    ablation's, so not recorded as the point's options)."""
    t0 = time.perf_counter()
    options = {**entry_options(entry, lam), **(train_options or {})}
    tag = "".join(f"-{k}-{v}" for k, v in sorted(options.items())).replace(" ", "")
    res = train_and_compress(ds, demo_train_config(args.iterations), work / f"{entry['codec']}{tag}-{lam}",
                             codec=entry["codec"], codec_config={"lambda_rate": lam, **options}, progress=False)
    m = res.metrics
    summary = gsz_summary((res.out_dir / "scene.gsz").read_bytes())
    point = {"label": entry["label"], "codec": entry["codec"], "lambda": lam, "psnr": m["compressed"]["psnr"],
             "ssim": m["compressed"]["ssim"], "bytes": m["compressed"]["bytes"],
             "psnr_before_coding": m["uncompressed"]["psnr"], "seconds": time.perf_counter() - t0,
             "train_seconds": m["train_seconds"], "encode_seconds": m["encode_seconds"],
             "decode_seconds": m["decode_seconds"], "groups": summary.get("groups")}
    if m.get("representation") == "anchors":
        st = m.get("codec_stats", {})
        point.update(raw_bytes=m["uncompressed"]["bytes"], anchors=m["decoded_anchors"],
                     export_psnr=m["export"]["psnr"], export_fit_loss_db=m["export"]["fit_loss_db"],
                     psnr_as_trained=m.get("quantized_in_training", {}).get("psnr"), bits=st.get("bits"))
        if m.get("entropy_model", {}).get("gate_weights"):
            point["gate_weights"] = m["entropy_model"]["gate_weights"]
    if entry.get("options"):
        point["options"] = entry["options"]
    if m.get("representation") != "anchors":
        point["splats"] = m["decoded_splats"]
    point["run_dir"] = str(res.out_dir)
    return point


def run_single_model(ds, entry: dict, lambdas: list[float], args, work: Path) -> list[dict]:
    """A variable-rate codec: one model trained at the middle λ (drawing its trained λ per step),
    then coded again at every other λ from its run folder (`gscodec encode RUN/ --lambda`),
    each stream decoded from the bytes alone and scored on the test views."""
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.eval.compare import score_on_dataset
    from gscodec.train.anchor_run import load_trained

    mid = sorted(lambdas)[len(lambdas) // 2]
    first = run_point(ds, entry, mid, args, work, train_options={"lambdas": sorted(lambdas)})
    first.update(single_model=True, trained_at=mid, trained_lambdas=sorted(lambdas))
    points = [first]
    for lam in sorted(set(lambdas) - {mid}):
        t0 = time.perf_counter()
        name, options, scene = load_trained(first["run_dir"])
        scene.entropy_model.set_lambda(lam)
        codec = get_codec(name, **options)
        data = codec.encode(scene)
        t1 = time.perf_counter()
        decoded = decode_bytes(data)
        t2 = time.perf_counter()
        sc = score_on_dataset(decoded, ds, ds.test_indices)
        points.append({**{k: first[k] for k in ("label", "codec", "psnr_before_coding", "raw_bytes", "run_dir")},
                       "lambda": lam, "psnr": sc["psnr"], "ssim": sc["ssim"], "bytes": len(data),
                       "seconds": time.perf_counter() - t0, "train_seconds": 0.0, "encode_seconds": t1 - t0,
                       "decode_seconds": t2 - t1, "groups": gsz_summary(data).get("groups"),
                       "anchors": len(decoded), "bits": codec.last_stats.get("bits"), "single_model": True,
                       "trained_at": mid})
        print(f"    {entry['label']} coded at λ={lam}: PSNR {sc['psnr']:.2f} dB, {len(data):,} B", flush=True)
    return points


def run_plain_3dgs(ds, args, work: Path) -> dict:
    """Plain 3DGS on the same schedule (no simulation), coded by ptc: the reference for
    'Scaffold-GS unquantized within 0.3 dB of 3DGS at the same iterations'."""
    m = train_and_compress(ds, demo_train_config(args.iterations), work / "plain-3dgs", codec="ptc",
                           progress=False).metrics
    return {"psnr_uncompressed": m["uncompressed"]["psnr"], "psnr": m["compressed"]["psnr"],
            "bytes": m["compressed"]["bytes"], "splats": m["splats"], "train_seconds": m["train_seconds"]}


def summary_of(points: list[dict], meta: dict) -> dict:
    """The figures #13 names: HAC's size over Static GSCodec's at matched PSNR (geometric mean
    over HAC's points inside Static's PSNR span; None without overlap), the largest coded over
    estimated bits of any group (%), HAC's unquantized Scaffold PSNR at its smallest λ minus plain
    3DGS's, and the commit."""
    hac = [p for p in points if p["label"] == REFERENCE]
    static = [p for p in points if p["codec"] == "static-gscodec"]
    ratios = [p["bytes"] / s for p in hac if (s := size_at(static, p["psnr"])) is not None]
    over = [100 * (b["coded"] / b["estimated"] - 1) for p in hac for b in (p.get("bits") or {}).values()
            if b.get("estimated")]
    plain = meta.get("plain_3dgs")
    least = min(hac, key=lambda p: p["lambda"]) if hac else None
    return {
        "scene": meta.get("scene", "builtin"),
        "hac_over_static_size_at_matched_psnr": math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None,
        "hac_over_static_ratios": ratios,
        "max_coded_over_estimated_pct": max(over) if over else None,
        "scaffold_minus_3dgs_psnr_db": (least["psnr_before_coding"] - plain["psnr_uncompressed"])
        if least and plain else None,
        **{m: sm for m in METHODS if (sm := method_summary(points, m))},
        "git_commit": meta.get("git_commit"),
    }


FIXED_GROUPS = ("MLPs", "hash", "SFP", "MGRD", "MoP + context MLPs", "HEMGS networks", "HEMGS + MoP networks",
                "header")  # networks, tables, header: per-scene fixed cost


def method_summary(points: list[dict], codec: str) -> dict:
    """A method's figures against HAC: at each λ both ran, its feature group (with its
    feature-predicting side information, e.g. Predict-GS's SFP) over HAC's feature group;
    BD-rate against HAC of the whole files and of the files without their fixed cost
    (FIXED_GROUPS); its size over HAC's at matched PSNR; mean gate weights where it has a gate."""
    from gscodec.eval.bdrate import bd_rate

    hac = {p["lambda"]: p for p in points if p["label"] == REFERENCE}
    pred = {p["lambda"]: p for p in points if p["codec"] == codec and not p.get("options")
            and p["label"] == next(e["label"] for e in CODECS if e["codec"] == codec)}
    if not hac or not pred:
        return {}

    def group(p, name):
        return sum(g["bytes"] for g in p.get("groups") or [] if g["group"] == name)

    def variable(p):
        return p["bytes"] - sum(group(p, n) for n in FIXED_GROUPS)

    ratios = {lam: (group(p, "feature") + group(p, "SFP")) / group(hac[lam], "feature")
              for lam, p in sorted(pred.items()) if lam in hac and group(hac[lam], "feature")}
    h, q = sorted(hac.values(), key=lambda p: p["bytes"]), sorted(pred.values(), key=lambda p: p["bytes"])
    whole = bd_rate([p["bytes"] for p in h], [p["psnr"] for p in h], [p["bytes"] for p in q], [p["psnr"] for p in q])
    var = bd_rate([variable(p) for p in h], [p["psnr"] for p in h], [variable(p) for p in q], [p["psnr"] for p in q])
    matched = [p["bytes"] / s for p in q if (s := size_at(list(hac.values()), p["psnr"])) is not None]
    out = {
        "feature_group_ratio_vs_hac": math.exp(sum(map(math.log, ratios.values())) / len(ratios)) if ratios else None,
        "feature_group_ratio_vs_hac_by_lambda": {str(k): v for k, v in ratios.items()},
        "bd_rate_vs_hac_pct": whole.value, "bd_rate_vs_hac_note": whole.reason or "; ".join(whole.warnings),
        "bd_rate_vs_hac_without_fixed_cost_pct": var.value,
        "size_over_hac_at_matched_psnr": math.exp(sum(map(math.log, matched)) / len(matched)) if matched else None,
    }
    gates = {str(lam): p["gate_weights"] for lam, p in sorted(pred.items()) if p.get("gate_weights")}
    if gates:
        out["gate_weights_by_lambda"] = gates
    return {**out, **single_model_summary(points, codec)}


def single_model_summary(points: list[dict], codec: str) -> dict:
    """A variable-rate codec's one model against its per-λ models: BD-rate of the single
    model's curve against theirs, total training time over theirs, decode seconds per 10k anchors."""
    from gscodec.eval.bdrate import bd_rate

    single = sorted((p for p in points if p["codec"] == codec and p.get("single_model")), key=lambda p: p["bytes"])
    per = sorted((p for p in points if p["codec"] == codec and p["label"].endswith("per-λ")), key=lambda p: p["bytes"])
    if not single:
        return {}
    out = {"decode_seconds_per_10k_anchors": 1e4 * sum(p["decode_seconds"] for p in single)
           / max(sum(p.get("anchors") or 0 for p in single), 1)}
    if per:
        bd = bd_rate([p["bytes"] for p in per], [p["psnr"] for p in per], [p["bytes"] for p in single],
                     [p["psnr"] for p in single])
        out.update(single_vs_per_lambda_bd_rate_pct=bd.value,
                   single_vs_per_lambda_note=bd.reason or "; ".join(bd.warnings),
                   single_over_per_lambda_train_time=sum(p["train_seconds"] for p in single)
                   / max(sum(p["train_seconds"] for p in per), 1e-9))
    return out


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
    """RD curves (size vs PSNR), one line per codec; the raw Scaffold sizes as crosses."""
    try:
        from matplotlib.ticker import FuncFormatter

        from gscodec.eval.report import new_figure, save_figure
    except ImportError:
        return None
    fig = new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    for label in dict.fromkeys(p["label"] for p in points):
        pts = sorted((p for p in points if p["label"] == label), key=lambda p: p["bytes"])
        ax.plot([p["bytes"] / 1e3 for p in pts], [p["psnr"] for p in pts], "o-", label=label)
        for p in pts:
            ax.annotate(f"λ={p['lambda']}", (p["bytes"] / 1e3, p["psnr"]), fontsize=7, xytext=(4, -9),
                        textcoords="offset points")
    raw = [p for p in points if "raw_bytes" in p]
    if raw:
        ax.plot([p["raw_bytes"] / 1e3 for p in raw], [p["psnr_before_coding"] for p in raw], "x", color="grey",
                label="same Scaffold model, raw (unquantized)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    ax.set_xlabel("file size (KB, log scale)")
    ax.set_ylabel("PSNR on test views (dB)")
    ax.set_title(f"Anchor codecs on {title} (decoded from the file)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
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
        lines.append(f"| {p['label']} | {p['lambda']} | {p['psnr']:.2f} | {p['ssim']:.4f} | {p['bytes']:,} | "
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
                      f"- {label} BD-rate against HAC: {fmt(ms['bd_rate_vs_hac_pct'], '+.1f')}% of the whole file, "
                      f"{fmt(ms['bd_rate_vs_hac_without_fixed_cost_pct'], '+.1f')}% without the fixed cost "
                      f"({', '.join(FIXED_GROUPS)}){' — ' + ms['bd_rate_vs_hac_note'] if ms.get('bd_rate_vs_hac_note') else ''}",
                      f"- {label} / HAC size at matched PSNR: {fmt(ms['size_over_hac_at_matched_psnr'], '.2f')}"]
            if "decode_seconds_per_10k_anchors" in ms:
                lines.append(f"- {label} decode: {ms['decode_seconds_per_10k_anchors']:.2f} s per 10k anchors "
                             "(these streams, 2 CPU cores)")
            if "single_vs_per_lambda_bd_rate_pct" in ms:
                lines.append(f"- {label} one model (trained once, coded at every λ) against one model per λ: BD-rate "
                             f"{fmt(ms['single_vs_per_lambda_bd_rate_pct'], '+.1f')}%"
                             f"{' — ' + ms['single_vs_per_lambda_note'] if ms.get('single_vs_per_lambda_note') else ''}"
                             f"; training time {fmt(ms['single_over_per_lambda_train_time'], '.2f')} of theirs")
            for lam, w in (ms.get("gate_weights_by_lambda") or {}).items():
                lines.append(f"- {label} λ={lam} mean gate weights: " + ", ".join(f"{v:.3f}" for v in w))
        lines += [f"- commit: {sm.get('git_commit')}"]
    if meta.get("notes"):
        lines += ["", "## Notes", "", meta["notes"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--resolution", type=int, default=128, help="built-in scene image size")
    ap.add_argument("--scene", default="builtin", help="'builtin' or a dataset folder (COLMAP, NeRF-synthetic)")
    ap.add_argument("--downscale", type=int, default=1, help="image down-scale factor of a dataset folder")
    ap.add_argument("--codecs", nargs="*", help="labels to run (default: all)")
    ap.add_argument("--lambdas", nargs="*", default=[], metavar="LABEL=λ,λ",
                    help="other λ values for a codec, e.g. 'HAC=0.002,0.004' (a smaller sweep on a slow scene)")
    ap.add_argument("--out", default=str(RESULTS / "anchor_codecs"))
    ap.add_argument("--notes", help="a text file whose contents go into the report's Notes section")
    ap.add_argument("--from-json", help="rebuild the report (and plot) from an earlier run's JSON, no training")
    ap.add_argument("--merge", help="an earlier run's JSON (same scene and budget) whose points this run adds to "
                                    "(a re-run (codec, λ) replaces its point); both runs' provenance is kept")
    ap.add_argument("--plain", action="store_true", help="run the plain-3DGS reference even with --codecs")
    args = ap.parse_args()
    out = Path(args.out)
    if args.from_json:
        points, meta = load_results(args.from_json, "points")
        return write_results(out, "points", points, meta, args.notes, plot_for(meta), report, summary_of(points, meta))
    torch.set_num_threads(os.cpu_count() or 1)
    ds = (load_builtin(resolution=args.resolution) if args.scene == "builtin"
          else load_dataset(args.scene, downscale=args.downscale))
    work = Path("runs") / "anchor_codecs" / re.sub(r"[^A-Za-z0-9]+", "-", ds.name or args.scene)
    points, lambdas = [], parse_lambdas(args.lambdas)
    earlier, earlier_meta = load_results(args.merge, "points") if args.merge else ([], {})
    if args.merge and (earlier_meta.get("iterations") != args.iterations
                       or earlier_meta.get("scene") != (ds.name or args.scene)):
        raise SystemExit(f"--merge {args.merge}: made on {earlier_meta.get('scene')} at "
                         f"{earlier_meta.get('iterations')} iterations, not this run's")
    for entry in CODECS:
        if args.codecs and entry["label"] not in args.codecs:
            continue
        if entry.get("single_model"):
            print(f"{entry['label']} (one model) ...", flush=True)
            points += run_single_model(ds, entry, lambdas.get(entry["label"], entry["lambdas"]), args, work)
            continue
        for lam in lambdas.get(entry["label"], entry["lambdas"]):
            print(f"{entry['label']} λ={lam} ...", flush=True)
            p = run_point(ds, entry, lam, args, work)
            print(f"    PSNR {p['psnr']:.2f} dB, {p['bytes']:,} B, {p['seconds']:.0f} s", flush=True)
            points.append(p)
    plain = earlier_meta.get("plain_3dgs")
    if not args.codecs or args.plain:
        print("plain 3DGS (reference) ...", flush=True)
        plain = run_plain_3dgs(ds, args, work)
    fresh = {(p["label"], p["lambda"]) for p in points}
    order = {e["label"]: i for i, e in enumerate(CODECS)}
    points = sorted([p for p in earlier if (p["label"], p["lambda"]) not in fresh] + points,
                    key=lambda p: (order.get(p["label"], len(order)), p["lambda"]))
    merged = [{k: earlier_meta.get(k) for k in ("command", "git_commit", "date_utc")}] if args.merge else []
    cam = ds.cameras[ds.train_indices[0]]
    meta = run_meta("anchor_codecs.py", iterations=args.iterations, schedule=SCHEDULE, resolution=f"{cam.width}x{cam.height}",
                    numpy=np.__version__, scene=ds.name or args.scene, views=f"{len(ds.train_indices)} train / "
                    f"{len(ds.test_indices)} test", initial_points=len(ds.points.xyz), plain_3dgs=plain,
                    merged_from=merged + earlier_meta.get("merged_from", []))
    return write_results(out, "points", points, meta, args.notes, plot_for(meta), report, summary_of(points, meta))


def parse_lambdas(items: list[str]) -> dict[str, list[float]]:
    """['HAC=0.002,0.004'] -> {'HAC': [0.002, 0.004]}; a codec is named by its label or its
    registered name (static-gscodec); anything else is refused."""
    names = {**{e["codec"]: e["label"] for e in CODECS}, **{e["label"]: e["label"] for e in CODECS}}
    labels, out = sorted(names), {}
    for item in items:
        name, _, vals = item.partition("=")
        label = names.get(name)
        if label is None or not vals:
            raise SystemExit(f"--lambdas {item!r}: expected NAME=λ[,λ...] with NAME one of {labels}")
        try:
            out[label] = [float(v) for v in vals.split(",")]
        except ValueError:
            raise SystemExit(f"--lambdas {item!r}: λ values must be numbers") from None
    return out


def scene_title(meta: dict, quote: str = "") -> str:
    scene = meta.get("scene", "builtin")
    return "the built-in scene" if scene == "builtin" else f"{quote}{scene}{quote}"


def plot_for(meta: dict):
    return lambda points, path: plot(points, path, scene_title(meta))


if __name__ == "__main__":
    raise SystemExit(main())
