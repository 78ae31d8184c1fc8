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

from anchor_entries import (  # noqa: E402, I001
    CODECS, FIXED_GROUPS, METHODS, REFERENCE, RESULTS, SCHEDULE,
)
from anchor_report import plot_for, report, scene_title, size_at  # noqa: E402, F401  (scene_title: anchor_ablation)



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
    from gscodec.codecs import get_codec
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
        decoded, sc, t2 = decode_and_score(data, ds)
        points.append({**{k: first[k] for k in ("label", "codec", "psnr_before_coding", "raw_bytes", "run_dir")},
                       "lambda": lam, "psnr": sc["psnr"], "ssim": sc["ssim"], "bytes": len(data),
                       "seconds": time.perf_counter() - t0, "train_seconds": 0.0, "encode_seconds": t1 - t0,
                       "decode_seconds": t2 - t1, "groups": gsz_summary(data).get("groups"),
                       "anchors": len(decoded), "bits": codec.last_stats.get("bits"), "single_model": True,
                       "trained_at": mid})
        print(f"    {entry['label']} coded at λ={lam}: PSNR {sc['psnr']:.2f} dB, {len(data):,} B", flush=True)
    return points


def decode_and_score(data: bytes, ds):
    """(decoded scene, its scores on the test views, the clock when decoding ended): a stream
    coded outside a training run, decoded from the bytes alone."""
    from gscodec.codecs import decode_bytes
    from gscodec.eval.compare import score_on_dataset

    decoded = decode_bytes(data)
    t = time.perf_counter()
    return decoded, score_on_dataset(decoded, ds, ds.test_indices), t


def matched_size_ratio(ref: list[dict], pts: list[dict]) -> float | None:
    """Geometric mean over `pts` of size / the reference's size at the same PSNR (where the
    reference spans it); None without overlap."""
    matched = [p["bytes"] / s for p in pts if (s := size_at(ref, p["psnr"])) is not None]
    return math.exp(sum(map(math.log, matched)) / len(matched)) if matched else None


def run_plain_3dgs(ds, args, work: Path) -> dict:
    """Plain 3DGS on the same schedule (no simulation), coded by ptc: the reference for
    'Scaffold-GS unquantized within 0.3 dB of 3DGS at the same iterations'."""
    res = train_and_compress(ds, demo_train_config(args.iterations), work / "plain-3dgs", codec="ptc",
                             progress=False)
    m = res.metrics
    return {"psnr_uncompressed": m["uncompressed"]["psnr"], "psnr": m["compressed"]["psnr"],
            "bytes": m["compressed"]["bytes"], "splats": m["splats"], "train_seconds": m["train_seconds"],
            "ply": str(res.out_dir / "scene.ply")}


def run_post_training(ds, entry: dict, qualities: list, plain: dict) -> list[dict]:
    """The one trained plain 3DGS (`plain`) coded by a post-training codec at each quality,
    decoded from the bytes alone and scored on the test views (its training time on the first)."""
    from gscodec.codecs import get_codec
    from gscodec.scene import load_ply

    scene, points = load_ply(plain["ply"]), []
    for i, q in enumerate(qualities):
        codec = get_codec(entry["codec"], quality=int(q))
        t0 = time.perf_counter()
        data = codec.encode(scene)
        t1 = time.perf_counter()
        decoded, sc, t2 = decode_and_score(data, ds)
        points.append({"label": entry["label"], "codec": entry["codec"], "lambda": int(q), "rate_param": "quality",
                       "psnr": sc["psnr"], "ssim": sc["ssim"], "bytes": len(data),
                       "psnr_before_coding": plain["psnr_uncompressed"], "seconds": t2 - t0 + sc.get("seconds", 0.0),
                       "train_seconds": plain["train_seconds"] if i == 0 else 0.0, "encode_seconds": t1 - t0,
                       "decode_seconds": t2 - t1, "splats": len(decoded)})
        print(f"    {entry['label']} quality {q}: PSNR {sc['psnr']:.2f} dB, {len(data):,} B", flush=True)
    return points


def versus_reference(points: list[dict]) -> dict:
    """Every codec's curve against HAC's in the same run: BD-rate of the whole files (with
    the PSNR interval both curves cover, or why there is none), size at matched PSNR, and
    total training / mean encode and decode seconds."""
    from gscodec.metrics.bdrate import bd_rate

    def curve(label):
        return sorted((p for p in points if p["label"] == label), key=lambda p: p["bytes"])

    ref, out = curve(REFERENCE), {}
    for label in dict.fromkeys(p["label"] for p in points):
        pts = curve(label)
        bd = bd_rate([p["bytes"] for p in ref], [p["psnr"] for p in ref], [p["bytes"] for p in pts],
                     [p["psnr"] for p in pts]) if label != REFERENCE else None
        out[label] = {
            "points": len(pts),
            "bd_rate_vs_hac_pct": 0.0 if bd is None else bd.value,
            "note": "" if bd is None else bd.reason or "; ".join(bd.warnings),
            "psnr_interval": list(bd.interval) if bd is not None and bd.interval else None,
            "size_over_hac_at_matched_psnr": matched_size_ratio(ref, pts),
            "train_seconds": sum(p.get("train_seconds") or 0.0 for p in pts),
            "encode_seconds_mean": sum(p.get("encode_seconds") or 0.0 for p in pts) / len(pts),
            "decode_seconds_mean": sum(p.get("decode_seconds") or 0.0 for p in pts) / len(pts),
        }
    return out


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
    vs = versus_reference(points) if hac else {}
    return {
        "scene": meta.get("scene", "builtin"),
        "hac_over_static_size_at_matched_psnr": math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None,
        "hac_over_static_ratios": ratios,
        "max_coded_over_estimated_pct": max(over) if over else None,
        "scaffold_minus_3dgs_psnr_db": (least["psnr_before_coding"] - plain["psnr_uncompressed"])
        if least and plain else None,
        **{m: sm for m in METHODS if (sm := method_summary(points, m))},
        "bd_rate_vs_hac_pct": {label: v["bd_rate_vs_hac_pct"] for label, v in vs.items() if label != REFERENCE},
        "versus_hac": vs,
        "git_commit": meta.get("git_commit"),
    }




def method_summary(points: list[dict], codec: str) -> dict:
    """A method's figures against HAC: at each λ both ran, its feature group (with its
    feature-predicting side information, e.g. Predict-GS's SFP) over HAC's feature group;
    BD-rate against HAC of the whole files and of the files without their fixed cost
    (FIXED_GROUPS); its size over HAC's at matched PSNR; mean gate weights where it has a gate."""
    from gscodec.metrics.bdrate import bd_rate

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
    out = {
        "feature_group_ratio_vs_hac": math.exp(sum(map(math.log, ratios.values())) / len(ratios)) if ratios else None,
        "feature_group_ratio_vs_hac_by_lambda": {str(k): v for k, v in ratios.items()},
        "bd_rate_vs_hac_pct": whole.value, "bd_rate_vs_hac_note": whole.reason or "; ".join(whole.warnings),
        "bd_rate_vs_hac_without_fixed_cost_pct": var.value,
        "size_over_hac_at_matched_psnr": matched_size_ratio(list(hac.values()), q),
    }
    gates = {str(lam): p["gate_weights"] for lam, p in sorted(pred.items()) if p.get("gate_weights")}
    if gates:
        out["gate_weights_by_lambda"] = gates
    return {**out, **single_model_summary(points, codec)}


def single_model_summary(points: list[dict], codec: str) -> dict:
    """A variable-rate codec's one model against its per-λ models: BD-rate of the single
    model's curve against theirs, total training time over theirs, decode seconds per 10k anchors."""
    from gscodec.metrics.bdrate import bd_rate

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



FULL = {"iterations": 1000, "resolution": 128, "views": 40}
QUICK = {"iterations": 150, "resolution": 48, "views": 24}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=None, help=f"training steps per point (default 1000; "
                    f"--quick: {QUICK['iterations']})")
    ap.add_argument("--resolution", type=int, default=None, help="built-in scene image size (default 128; "
                    f"--quick: {QUICK['resolution']})")
    ap.add_argument("--views", type=int, default=None, help="built-in scene views (default 40; --quick: "
                    f"{QUICK['views']})")
    ap.add_argument("--quick", action="store_true", help="the short setting of the same comparison (minutes on "
                    "2 cores; results in anchor_codecs_quick unless --out): a smoke run, not a measurement")
    ap.add_argument("--scene", default="builtin", help="'builtin' or a dataset folder (COLMAP, NeRF-synthetic)")
    ap.add_argument("--downscale", type=int, default=1, help="image down-scale factor of a dataset folder")
    ap.add_argument("--codecs", nargs="*", help="labels to run (default: all)")
    ap.add_argument("--lambdas", nargs="*", default=[], metavar="LABEL=λ,λ",
                    help="other λ values for a codec, e.g. 'HAC=0.002,0.004' (a smaller sweep on a slow scene)")
    ap.add_argument("--out", default=None, help="results path without extension (default "
                    "bench/results/anchor_codecs[_quick])")
    ap.add_argument("--notes", help="a text file whose contents go into the report's Notes section")
    ap.add_argument("--from-json", help="rebuild the report (and plot) from an earlier run's JSON, no training")
    ap.add_argument("--merge", help="an earlier run's JSON (same scene and budget) whose points this run adds to "
                                    "(a re-run (codec, λ) replaces its point); both runs' provenance is kept")
    ap.add_argument("--work", default="runs/anchor_codecs", help="where the training runs go")
    ap.add_argument("--plain", action="store_true", help="run the plain-3DGS reference even with --codecs")
    args = ap.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.iterations = args.iterations or preset["iterations"]
    args.resolution = args.resolution or preset["resolution"]
    args.views = args.views or preset["views"]
    out = Path(args.out or RESULTS / ("anchor_codecs_quick" if args.quick else "anchor_codecs"))
    if args.from_json:
        points, meta = load_results(args.from_json, "points")
        return write_results(out, "points", points, meta, args.notes, plot_for(meta), report, summary_of(points, meta))
    torch.set_num_threads(os.cpu_count() or 1)
    ds = (load_builtin(resolution=args.resolution, n_views=args.views) if args.scene == "builtin"
          else load_dataset(args.scene, downscale=args.downscale))
    work = Path(args.work) / re.sub(r"[^A-Za-z0-9]+", "-", ds.name or args.scene)
    points, lambdas = [], parse_lambdas(args.lambdas)
    earlier, earlier_meta = load_results(args.merge, "points") if args.merge else ([], {})
    views = f"{len(ds.train_indices)} train / {len(ds.test_indices)} test"
    if args.merge and (earlier_meta.get("iterations") != args.iterations
                       or earlier_meta.get("scene") != (ds.name or args.scene)
                       or earlier_meta.get("views", views) != views):
        raise SystemExit(f"--merge {args.merge}: made on {earlier_meta.get('scene')} ({earlier_meta.get('views')} "
                         f"views) at {earlier_meta.get('iterations')} iterations, not this run's")
    plain = earlier_meta.get("plain_3dgs")
    for entry in CODECS:
        if args.codecs and entry["label"] not in args.codecs:
            continue
        if entry.get("post_training"):
            print(f"{entry['label']} (plain 3DGS, coded at each quality) ...", flush=True)
            if not (plain and Path(plain.get("ply", "")).is_file()):
                plain = run_plain_3dgs(ds, args, work)
            points += run_post_training(ds, entry, lambdas.get(entry["label"], entry["lambdas"]), plain)
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
    if (not args.codecs or args.plain) and not (plain and Path(plain.get("ply", "")).is_file()):
        print("plain 3DGS (reference) ...", flush=True)
        plain = run_plain_3dgs(ds, args, work)
    # a re-run point replaces its earlier one; a re-run one-model curve (single model, one
    # trained 3DGS coded at each quality) replaces the whole earlier curve: never two models in one
    fresh = {(p["label"], p["lambda"]) for p in points}
    whole = {e["label"] for e in CODECS if e.get("single_model") or e.get("post_training")} & {p["label"] for p in points}
    order = {e["label"]: i for i, e in enumerate(CODECS)}
    points = sorted([p for p in earlier if (p["label"], p["lambda"]) not in fresh and p["label"] not in whole] + points,
                    key=lambda p: (order.get(p["label"], len(order)), p["lambda"]))
    merged = [{k: earlier_meta.get(k) for k in ("command", "git_commit", "date_utc")}] if args.merge else []
    cam = ds.cameras[ds.train_indices[0]]
    meta = run_meta("anchor_codecs.py", iterations=args.iterations, schedule=SCHEDULE, resolution=f"{cam.width}x{cam.height}",
                    numpy=np.__version__, scene=ds.name or args.scene, views=views, initial_points=len(ds.points.xyz), plain_3dgs=plain,
                    merged_from=merged + earlier_meta.get("merged_from", []), quick=args.quick)
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


if __name__ == "__main__":
    raise SystemExit(main())
