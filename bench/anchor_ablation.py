"""Ablations of the anchor methods on HAC, at one λ on one scene: each row one training run of
bench/anchor_codecs.py's `run_point` (same budget and scene, decoded from the file alone),
its variant a set of codec options.

  predict-gs  the paper's Table 4 (HAC / + SFP only / + SFP + residual / + progressive training
              = full) and Table 6 (view down-sampling: fixed ("Non") / linear / cosine)
  mop         Tables 2 and 6 (HAC / + MoP / + C2FQ / both) and the expert count (1 / 3 / 5),
              plus the paper-like wide experts (each as wide as HAC's MLP)
  hemgs       Tables 3 and 4 (full / w/o SA / w/o AR / w/o ACS / small field), each one model
              trained for all λ and coded at --lambda; HEMGS per-λ (one model per rate) reused
  combined    issue #17: the combined codec with each part removed in turn (Predict-GS's
              features: HEMGS + MoP; MoP: one expert; HEMGS's AR context and variable rate:
              no AR, a model for this λ alone)

HAC and the full method can be taken from an anchor_codecs results JSON of the same scene,
budget and λ (`--reuse`) instead of being trained again; the report marks those rows.

    python bench/anchor_ablation.py --method predict-gs [--iterations 1000] [--lambda 0.004] [--reuse JSON]
Writes bench/results/<method>_ablation.md and .json (summary: the rows and the directions).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402
from anchor_codecs import run_point, scene_title  # noqa: E402
from common import load_results, run_meta, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

HAC_ROW = ("HAC", "-", {"label": "HAC", "codec": "hac"})
PGS = {"label": "Predict-GS", "codec": "predict-gs"}
MOP = {"label": "MoP", "codec": "mop"}
HEM = {"label": "HEMGS", "codec": "hemgs"}
COMB = {"label": "Combined", "codec": "combined"}
# method -> (row, table of the paper, entry); FULL[method] is the method with its defaults
VARIANTS = {
    "predict-gs": [
        HAC_ROW,
        ("+ SFP only", "4", {**PGS, "options": {"residual": "off", "downsample": "none"}}),
        ("+ SFP + f_r", "4", {**PGS, "options": {"residual": "always", "downsample": "none"}}),
        ("full (staged + cosine)", "4, 6", {**PGS, "options": {}}),
        ("down-sampling fixed (Non)", "6", {**PGS, "options": {"downsample": "fixed"}}),
        ("down-sampling linear", "6", {**PGS, "options": {"downsample": "linear"}}),
    ],
    "mop": [
        HAC_ROW,
        ("+ MoP (HAC's steps)", "2", {**MOP, "options": {"c2fq": False}}),
        ("+ C2FQ (one expert)", "6", {**MOP, "options": {"experts": 1}}),
        ("MoP + C2FQ (full, 5 experts)", "2, 6", {**MOP, "options": {}}),
        ("3 experts", "experts", {**MOP, "options": {"experts": 3}}),
        ("5 wide experts (paper-like)", "experts", {**MOP, "options": {"expert_hidden": 32}}),
        ("C2FQ vector + element matrix", "C2FQ (c)", {**MOP, "options": {"weights": "matrix"}}),
    ],
    "hemgs": [
        HAC_ROW,
        ("full (one model, SA + AR + ACS)", "3, 4", {**HEM, "options": {}}),
        ("w/o SA", "3", {**HEM, "options": {"sa": False}}),
        ("w/o AR", "3", {**HEM, "options": {"ar": False}}),
        ("w/o ACS (all in the 25³ field)", "4", {**HEM, "options": {"acs": False}}),
        ("small field (5³, all)", "4", {**HEM, "options": {"acs": False, "field": 5}}),
    ],
    "combined": [  # each part removed in turn (issue #17)
        HAC_ROW,
        ("combined (Predict-GS + MoP + HEMGS)", "-", {**COMB, "options": {}}),
        ("w/o Predict-GS (HEMGS + MoP)", "-", {**HEM, "options": {"experts": 5}}),
        ("w/o MoP (one expert)", "-", {**COMB, "options": {"experts": 1}}),
        ("w/o HEMGS's AR and variable rate", "-", {**COMB, "per_lambda": True, "options": {"ar": False}}),
    ],
}
FULL = {"predict-gs": "full (staged + cosine)", "mop": "MoP + C2FQ (full, 5 experts)",
        "hemgs": "full (one model, SA + AR + ACS)", "combined": "combined (Predict-GS + MoP + HEMGS)"}
COSINE = FULL["predict-gs"]


def feature_bytes(p: dict) -> int:
    return sum(g["bytes"] for g in p.get("groups") or [] if g["group"] in ("feature", "SFP"))


def directions(rows: dict[str, dict], method: str = "predict-gs") -> dict:
    """The paper's directions, each True/False as measured (None when a row is missing)."""
    def cmp(a, b, key, op):
        if a not in rows or b not in rows:
            return None
        return bool(op(rows[a][key], rows[b][key]))

    lt, ge, gt = (lambda x, y: x < y), (lambda x, y: x >= y), (lambda x, y: x > y)
    le = lambda x, y: x <= y  # noqa: E731
    if method == "hemgs":
        full = FULL["hemgs"]
        return {
            "full_smaller_than_hac": cmp(full, "HAC", "bytes", lt),
            "ar_acs_not_larger_than_no_ar": cmp(full, "w/o AR", "bytes", le),
            "sa_smaller_than_without": cmp(full, "w/o SA", "bytes", lt),
            "acs_smaller_than_all_in_field": cmp(full, "w/o ACS (all in the 25³ field)", "bytes", lt),
            "large_field_smaller_than_small": cmp("w/o ACS (all in the 25³ field)", "small field (5³, all)", "bytes", lt),
        }
    if method == "combined":
        full = FULL["combined"]
        return {"combined_smaller_than_hac": cmp(full, "HAC", "bytes", lt),
                **{f"{part}_pays": cmp(full, row, "bytes", lt) for part, row in
                   (("predict_gs", "w/o Predict-GS (HEMGS + MoP)"), ("mop", "w/o MoP (one expert)"),
                    ("hemgs_ar_vr", "w/o HEMGS's AR and variable rate"))}}
    if method == "mop":
        full = FULL["mop"]
        return {
            "mop_smaller_than_hac": cmp("+ MoP (HAC's steps)", "HAC", "bytes", lt),
            "c2fq_smaller_than_hac": cmp("+ C2FQ (one expert)", "HAC", "bytes", lt),
            "both_smaller_than_hac": cmp(full, "HAC", "bytes", lt),
            "both_psnr_ge_hac": cmp(full, "HAC", "psnr", ge),
            "five_experts_smaller_than_three": cmp(full, "3 experts", "bytes", lt),
            "three_experts_smaller_than_one": cmp("3 experts", "+ C2FQ (one expert)", "bytes", lt),
            "matrix_smaller_than_vector": cmp("C2FQ vector + element matrix", full, "bytes", lt),
        }
    return {
        "sfp_only_smaller_than_hac": cmp("+ SFP only", "HAC", "bytes", lt),
        "sfp_only_worse_than_hac": cmp("+ SFP only", "HAC", "psnr", lt),
        "residual_recovers_psnr": cmp("+ SFP + f_r", "+ SFP only", "psnr", gt),
        "sfp_residual_smaller_than_hac": cmp("+ SFP + f_r", "HAC", "bytes", lt),
        "progressive_adds_psnr": cmp(COSINE, "+ SFP + f_r", "psnr", ge),
        "cosine_ge_linear": cmp(COSINE, "down-sampling linear", "psnr", ge),
        "linear_ge_fixed": cmp("down-sampling linear", "down-sampling fixed (Non)", "psnr", ge),
    }


def summary_of(points: list[dict], meta: dict) -> dict:
    rows = {p["row"]: {k: p[k] for k in ("psnr", "ssim", "bytes")} | {"feature_group_bytes": feature_bytes(p)}
            for p in points}
    method = meta.get("method", "predict-gs")
    out = {"scene": meta.get("scene"), "method": method, "lambda": meta.get("lambda"), "ablation_rows": rows,
           "directions": directions(rows, method), "git_commit": meta.get("git_commit")}
    if method == "mop":  # the expert-count rows the issue names
        out["expert_count_rows"] = {n: rows.get(r) for n, r in (("1", "+ C2FQ (one expert)"), ("3", "3 experts"),
                                                                ("5", FULL["mop"]))}
        out["vector_vs_matrix_rows"] = {"vector": rows.get(FULL["mop"]), "vector+matrix": rows.get("C2FQ vector + element matrix")}
    return out


def report(points: list[dict], meta: dict) -> str:
    ref = next((p for p in points if p["row"] == "HAC"), None)
    label = {"mop": "MoP", "predict-gs": "Predict-GS", "hemgs": "HEMGS", "combined": "Combined"}.get(
        meta.get("method", "predict-gs"))
    lines = [f"# {label} ablations on {scene_title(meta, '`')} (λ={meta['lambda']})", "",
             f"Machine: {meta['machine']}; {meta['date_utc']}; command: `{meta['command']}`; load at the end "
             f"{meta['loadavg_1min_end']}.",
             f"Budget: {meta['iterations']} training iterations per row at {meta['resolution']}; test views against "
             "ground truth, every .gsz decoded from the file alone. Rows marked *reused* come from "
             f"`{meta.get('reused_from')}` (same scene, budget and λ; {meta.get('reused_commit')}).", "",
             "| paper table | row | PSNR (dB) | SSIM | size (B) | feature group (B) | size / HAC | ΔPSNR vs HAC (dB) | train s | |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for p in points:
        rel = f"{p['bytes'] / ref['bytes']:.2f}" if ref else "-"
        dp = f"{p['psnr'] - ref['psnr']:+.2f}" if ref else "-"
        lines.append(f"| {p['table']} | {p['row']} | {p['psnr']:.2f} | {p['ssim']:.4f} | {p['bytes']:,} | "
                     f"{feature_bytes(p):,} | {rel} | {dp} | {p['train_seconds']:.0f} | {'reused' if p.get('reused') else ''} |")
    sm = meta.get("summary") or {}
    lines += ["", "## The paper's directions, as measured", ""]
    lines += [f"- {k.replace('_', ' ')}: {'yes' if v else 'no' if v is not None else 'n/a'}"
              for k, v in (sm.get("directions") or {}).items()]
    lines += ["", f"commit: {sm.get('git_commit')}"]
    if meta.get("notes"):
        lines += ["", "## Notes", "", meta["notes"]]
    return "\n".join(lines) + "\n"


def reusable(path: str | None, scene: str, iterations: int, lam: float, method: str,
             views: str | None = None) -> tuple[dict, dict]:
    """{'HAC': point, FULL[method]: point} from an anchor_codecs JSON of this scene, budget and λ."""
    if not path:
        return {}, {}
    points, meta = load_results(path, "points")
    if meta.get("scene") != scene or meta.get("iterations") != iterations or meta.get("views", views) != views:
        raise SystemExit(f"--reuse {path}: made on {meta.get('scene')} ({meta.get('views')} views) at "
                         f"{meta.get('iterations')} iterations")
    out = {}
    for p in points:
        if p["lambda"] == lam and p["codec"] == "hac":
            out["HAC"] = p
        elif p["lambda"] == lam and p["codec"] == method and not p.get("options") and not p.get("per_lambda") \
                and not p["label"].endswith("per-λ"):
            out[FULL[method]] = p
    return out, meta


def main() -> int:
    from gscodec.data.load import load_dataset
    from gscodec.data.synthetic import load_builtin

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=sorted(VARIANTS), required=True)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.004)
    ap.add_argument("--resolution", type=int, default=128, help="built-in scene image size")
    ap.add_argument("--scene", default="builtin")
    ap.add_argument("--downscale", type=int, default=1)
    ap.add_argument("--reuse", help="anchor_codecs results JSON whose HAC and Predict-GS points at this λ are rows")
    ap.add_argument("--rows", nargs="*", help="rows to run (default: all not reused)")
    ap.add_argument("--merge", help="an earlier run's JSON of this ablation whose rows this run adds to")
    ap.add_argument("--out", help="default bench/results/<method>_ablation")
    ap.add_argument("--notes")
    ap.add_argument("--from-json")
    args = ap.parse_args()
    out = Path(args.out or RESULTS / f"{args.method.replace('-', '_')}_ablation")
    if args.from_json:
        points, meta = load_results(args.from_json, "points")
        return write_results(out, "points", points, meta, args.notes, lambda *_: None, report, summary_of(points, meta))
    torch.set_num_threads(os.cpu_count() or 1)
    ds = (load_builtin(resolution=args.resolution) if args.scene == "builtin"
          else load_dataset(args.scene, downscale=args.downscale))
    scene = ds.name or args.scene
    views = f"{len(ds.train_indices)} train / {len(ds.test_indices)} test"
    reuse, reuse_meta = reusable(args.reuse, scene, args.iterations, args.lam, args.method, views)
    work = Path("runs") / "anchor_ablation" / re.sub(r"[^A-Za-z0-9]+", "-", scene)
    points = []
    for row, table, entry in VARIANTS[args.method]:
        if row in reuse:
            points.append({**reuse[row], "row": row, "table": table, "reused": True})
            continue
        if args.rows and row not in args.rows:
            continue
        print(f"{row} ...", flush=True)
        p = run_point(ds, entry, args.lam, args, work)
        print(f"    PSNR {p['psnr']:.2f} dB, {p['bytes']:,} B, {p['seconds']:.0f} s", flush=True)
        points.append({**p, "row": row, "table": table, "options": entry.get("options", {})})
    if args.merge:
        earlier, _ = load_results(args.merge, "points")
        have = {p["row"] for p in points}
        order = [r for r, _, _ in VARIANTS[args.method]]
        points = sorted(points + [p for p in earlier if p["row"] not in have],
                        key=lambda p: order.index(p["row"]) if p["row"] in order else len(order))
    cam = ds.cameras[ds.train_indices[0]]
    meta = run_meta("anchor_ablation.py", method=args.method, iterations=args.iterations, scene=scene, resolution=f"{cam.width}x{cam.height}",
                    reused_from=args.reuse, reused_commit=reuse_meta.get("git_commit"), **{"lambda": args.lam})
    return write_results(out, "points", points, meta, args.notes, lambda *_: None, report, summary_of(points, meta))


if __name__ == "__main__":
    raise SystemExit(main())
