"""Peer benchmark of the post-training codec (ptc): same input, same run, same metric.

Each input .ply is converted by
  * SPZ  - npm `spz-js` (port of Niantic's SPZ library) via bench/peers/spz_convert.mjs, and
           npm `@playcanvas/splat-transform` (.spz output, Adobe's @adobe/spz, SPZ v4);
  * SOG  - npm `@playcanvas/splat-transform` (.sog output, CPU encoder: `-g cpu`);
  * gsplat's PNG layout - our `gsplat-png` preset;
  * ours - the `default` preset at quality 1..8 (a subset on the 500k scene), and the
           `uniform` preset (no importance refinement) beside it on the smaller inputs,
and every result is decoded back to a scene with the peer's own tool (peers write a .ply,
which we load). Each decoded scene is rendered with our CPU rasterizer from the same orbit
cameras as the original; PSNR / SSIM are against the original's renders (so they measure what
the codec lost). Compressed size, encode and decode wall time and splat counts are recorded.

Peer times are wall-clock times of the converter process (node start-up included, ~0.3-0.5 s;
the spz-js helper also reports its in-process times), ours are in-process encode()/decode()
times (no PLY parsing). All runs on the same machine in the same run.

    python bench/ptc_vs_peers.py                 # full run (~15 min on 2 cores)
    python bench/ptc_vs_peers.py --quick         # small synthetic scene, fewer views/qualities
    python bench/ptc_vs_peers.py --inputs small_sh3 guitar --timeout 300

npm peers live in bench/peers (`npm ci --prefix bench/peers`); methods whose tool is missing
are recorded as "skipped". Writes bench/results/ptc_vs_peers.json (with the issue's `summary`),
.md and .png (RD curves); the goals and report live in ptc_peers_report.py, the generated
scene in ptc_peers_scene.py.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when imported by path
from common import START_COMMIT  # noqa: E402
from ptc_peers_report import (HIGH_PSNR_DB, TARGET_RATIO, _fmt, matched_psnr, plot_rd, sections_of,  # noqa: E402,F401
                              summary, write_markdown)
from ptc_peers_scene import REALISTIC_SH_NOISE, synthetic_scene  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PEERS = ROOT / "bench" / "peers"
DATA = ROOT.parent / "shared" / "data" / "real"
NODE_BIN = PEERS / "node_modules" / ".bin"
SPLAT_TRANSFORM = NODE_BIN / "splat-transform"
SPZ_SCRIPT = PEERS / "spz_convert.mjs"

REAL_INPUTS = {"small_sh3": DATA / "small_sh3.ply", "guitar": DATA / "guitar.ply"}
DEMO_PLY = ROOT / "runs" / "demo" / "scene.ply"
ALL_INPUTS = ("small_sh3", "guitar", "synthetic", "demo")
QUALITIES = tuple(range(1, 9))  # ptc's ladder (gscodec/codecs/ptc/config.py)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
LOAD_TIMES: list[dict] = []  # load_ply seconds of each input (the summary's load_seconds_per_100mb)


def _load_ply(path: Path, record: str | None = None):
    """load_ply, with its warnings (e.g. clamped +-inf opacity logits) captured as notes;
    `record`: the input's name, to keep its load time."""
    from gscodec.scene import load_ply

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        scene = load_ply(path)
        if record:
            LOAD_TIMES.append({"input": record, "ply_bytes": Path(path).stat().st_size,
                               "load_s": time.perf_counter() - t0})
    notes = [str(w.message).replace(str(path), Path(path).name) for w in caught]
    return scene, notes


def _nonfinite_opacity(path: Path) -> int:
    """Count of non-finite 'opacity' values in a binary little-endian float PLY (before clamping)."""
    with open(path, "rb") as fh:
        props, n = [], 0
        while True:
            line = fh.readline().decode("ascii", "replace").strip()
            if line.startswith("element vertex"):
                n = int(line.split()[-1])
            elif line.startswith("property"):
                props.append((line.split()[1], line.split()[-1]))
            elif line == "end_header":
                break
        if any(t not in ("float", "float32") for t, _ in props):
            return -1
        arr = np.frombuffer(fh.read(n * 4 * len(props)), dtype="<f4").reshape(n, len(props))
    names = [p for _, p in props]
    return int((~np.isfinite(arr[:, names.index("opacity")])).sum()) if "opacity" in names else -1


def _tool_versions() -> dict:
    out = {}
    for name in ("spz-js", "@playcanvas/splat-transform", "@adobe/spz"):
        pj = PEERS / "node_modules" / name / "package.json"
        out[name] = json.loads(pj.read_text())["version"] if pj.is_file() else None
    try:
        out["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out["node"] = None
    return out


def _run(cmd: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess | None, str | None]:
    """Wall time, process (None on timeout), error text."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PEERS)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None, f"did not finish in {timeout:.0f} s"
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return dt, proc, f"exit {proc.returncode}: {' | '.join(tail)}"
    return dt, proc, None


class Evaluator:
    """Reference renders computed once per input; each decoded scene is compared against them."""

    def __init__(self, ref, n_views: int, resolution: int):
        import torch

        from gscodec.eval.compare import auto_orbit
        from gscodec.render import render

        self.cameras = auto_orbit(ref, n_views, resolution)
        self.n_views, self.resolution = n_views, resolution
        t0 = time.perf_counter()
        with torch.no_grad():
            self.refs = [render(ref, c, background=(0.0, 0.0, 0.0)).image.clamp(0, 1) for c in self.cameras]
        self.render_seconds = time.perf_counter() - t0

    def __call__(self, scene) -> dict:
        import torch

        from gscodec.eval.metrics import psnr, ssim
        from gscodec.render import render

        ps, ss = [], []
        with torch.no_grad():
            for cam, ref in zip(self.cameras, self.refs):
                img = render(scene, cam, background=(0.0, 0.0, 0.0)).image.clamp(0, 1)
                ps.append(float(psnr(img, ref)))
                ss.append(float(ssim(img, ref)))
        return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "psnr_min_view": float(np.min(ps))}


# ---------------------------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------------------------
FAMILY = {"default": "ours", "uniform": "ours-uniform", "gsplat-png": "gsplat-png"}  # ptc preset -> report family


def run_ours(scene, label: str, preset: str, quality: int, **overrides) -> tuple[dict, object]:
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.utils.timing import timed
    from gscodec.codecs.info import gsz_summary

    codec = get_codec("ptc", preset=preset, quality=quality, **overrides)
    data, enc = timed(codec.encode, scene)
    dec, dect = timed(decode_bytes, data)
    info = gsz_summary(data)
    sections = sections_of(info)
    params = {"preset": preset, "quality": quality, **overrides}
    row = {"method": label, "family": FAMILY[preset], "tool": "gscodec ptc",
           "params": params, "bytes": len(data), "encode_s": enc, "decode_s": dect,
           "splats_out": len(dec), "sections": sections, "status": "ok"}
    return row, dec


def run_ours_target(scene, target_db: float, goal: str, views: int, resolution: int) -> tuple[dict, object]:
    """`gscodec encode --target-psnr` at a peer's PSNR (ladder search, then per-attribute widths):
    a real stream at the peer's fidelity, beside the interpolated curve; same cameras as the bench."""
    from gscodec.codecs import decode_bytes
    from gscodec.codecs.info import gsz_summary
    from gscodec.codecs.ptc.target import encode_for_psnr
    from gscodec.utils.timing import timed

    r, enc = timed(encode_for_psnr, scene, target_db, views=views, resolution=resolution)
    dec, dect = timed(decode_bytes, r.data)
    sections = sections_of(gsz_summary(r.data))
    return {"method": f"ours --target-psnr {target_db:.2f} ({goal})", "family": "ours-target",
            "tool": "gscodec encode --target-psnr", "bytes": len(r.data), "encode_s": enc, "decode_s": dect,
            "params": {"target_psnr": target_db, "for": goal, "quality": r.quality, "ladder_bytes": r.ladder_bytes,
                       "allocated": r.allocated, "reached": r.reached, "predicted_psnr": r.predicted_psnr,
                       "allocation_note": r.allocation_note},
            "splats_out": len(dec), "sections": sections, "status": "ok"}, dec


def _encode_child(ply: str, out: str, preset: str, quality: int, sh_rest_mode: str | None) -> None:
    """Child-process body: load a .ply, encode it, write the .gsz; one JSON line on stdout."""
    import torch

    from gscodec.codecs import get_codec
    from gscodec.scene import load_ply

    torch.set_num_threads(os.cpu_count() or 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scene = load_ply(ply)
    kw = {"sh_rest_mode": sh_rest_mode} if sh_rest_mode else {}
    codec = get_codec("ptc", preset=preset, quality=quality, **kw)
    t0 = time.perf_counter()
    data = codec.encode(scene)
    enc = time.perf_counter() - t0
    Path(out).write_bytes(data)
    from gscodec.codecs import decode_bytes
    from gscodec.codecs.info import gsz_summary
    from gscodec.scene import save_ply

    t0 = time.perf_counter()
    dec = decode_bytes(data)
    dect = time.perf_counter() - t0
    save_ply(dec, out + ".dec.ply")
    sections = sections_of(gsz_summary(data))
    print(json.dumps({"encode_s": enc, "decode_s": dect, "bytes": len(data), "sections": sections,
                      "peak_rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux ru_maxrss is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours_limited(ply: Path, work: Path, label: str, quality: int, timeout: float,
                     sh_rest_mode: str | None = None) -> tuple[dict, object]:
    """Our encoder in a child process with a wall-clock limit (for large inputs); decode here."""

    out = work / f"ours_q{quality}_{sh_rest_mode or 'kmeans'}.gsz"
    params = {"preset": "default", "quality": quality, **({"sh_rest_mode": sh_rest_mode} if sh_rest_mode else {})}
    row = {"method": label, "family": "ours", "tool": "gscodec ptc", "params": params}
    cmd = [sys.executable, __file__, "--_encode-child", str(ply), str(out), "default", str(quality),
           sh_rest_mode or ""]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**row, "status": "timeout", "note": f"load + encode did not finish in {timeout:.0f} s"}, None
    if proc.returncode != 0:
        return {**row, "status": "error", "note": (proc.stderr.strip().splitlines() or ["?"])[-1]}, None
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    dec, _ = _load_ply(Path(str(out) + ".dec.ply"))
    row.update(bytes=inner["bytes"], encode_s=inner["encode_s"], decode_s=inner["decode_s"], splats_out=len(dec),
               sections=inner["sections"], peak_rss_mb=inner.get("peak_rss_mb"), status="ok")
    return row, dec


def run_spz_js(in_ply: Path, work: Path, timeout: float) -> tuple[dict, Path | None]:
    row = {"method": "SPZ (spz-js)", "family": "spz", "tool": "spz-js", "params": {}}
    if not SPZ_SCRIPT.is_file() or not (PEERS / "node_modules" / "spz-js").is_dir():
        return {**row, "status": "skipped", "note": "spz-js not installed (npm ci --prefix bench/peers)"}, None
    spz, out = work / "spzjs.spz", work / "spzjs_dec.ply"
    dt, proc, err = _run(["node", str(SPZ_SCRIPT), str(in_ply), str(spz)], timeout)
    if err:
        return {**row, "status": "timeout" if proc is None else "error", "note": err, "encode_s": dt}, None
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    row.update(encode_s=dt, encode_inproc_s=inner["load_s"] + inner["serialize_s"], bytes=spz.stat().st_size)
    dt, proc, err = _run(["node", str(SPZ_SCRIPT), str(spz), str(out)], timeout)
    if err:
        return {**row, "status": "error", "note": "decode: " + err}, None
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    row.update(decode_s=dt, decode_inproc_s=inner["load_s"] + inner["serialize_s"], status="ok")
    return row, out


def run_splat_transform(in_ply: Path, work: Path, ext: str, timeout: float) -> tuple[dict, Path | None]:
    fam = "sog" if ext == "sog" else "spz"
    label = "SOG (splat-transform)" if ext == "sog" else "SPZ v4 (splat-transform)"
    params = {"gpu": "cpu", "sh_iterations": 10} if ext == "sog" else {"spz_version": 4}
    row = {"method": label, "family": fam, "tool": "@playcanvas/splat-transform", "params": params}
    if not SPLAT_TRANSFORM.exists():
        return {**row, "status": "skipped", "note": "splat-transform not installed (npm ci --prefix bench/peers)"}, None
    comp, out = work / f"st.{ext}", work / f"st_{ext}_dec.ply"
    extra = ["-g", "cpu"] if ext == "sog" else []
    dt, proc, err = _run([str(SPLAT_TRANSFORM), "-w", "-q", *extra, str(in_ply), str(comp)], timeout)
    if err:
        return {**row, "status": "timeout" if proc is None else "error", "note": err, "encode_s": dt}, None
    row.update(encode_s=dt, bytes=comp.stat().st_size)
    dt, proc, err = _run([str(SPLAT_TRANSFORM), "-w", "-q", str(comp), str(out)], timeout)
    if err:
        return {**row, "status": "error", "note": "decode: " + err}, None
    row.update(decode_s=dt, status="ok")
    return row, out


# ---------------------------------------------------------------------------------------------
# one input
# ---------------------------------------------------------------------------------------------
def bench_input(name: str, ply: Path, args, work_root: Path) -> list[dict]:
    ref, load_notes = _load_ply(ply, record=name)
    n = len(ref)
    big = n >= 300_000
    n_views, res = (args.views_large, args.res_large) if big else (args.views, args.res)
    print(f"\n=== {name}: {n:,} splats, SH degree {ref.sh_degree}, {ply.stat().st_size:,} B; "
          f"{n_views} views at {res}x{res}", flush=True)
    ev = Evaluator(ref, n_views, res)
    print(f"    reference renders: {ev.render_seconds:.1f} s", flush=True)
    work = work_root / name
    work.mkdir(parents=True, exist_ok=True)
    base = {"input": name, "splats_in": n, "sh_degree": ref.sh_degree, "ply_bytes": ply.stat().st_size,
            "views": n_views, "resolution": res}
    nonfinite_in = _nonfinite_opacity(ply)
    rows = []

    def finish(row: dict, scene=None, dec_ply: Path | None = None):
        row = {**base, **row}
        if dec_ply is not None:
            row["nonfinite_opacity_in_decoded_ply"] = _nonfinite_opacity(dec_ply)
            scene, notes = _load_ply(dec_ply)
            if notes:
                row["load_notes"] = notes
            row["splats_out"] = len(scene)
        if scene is not None and row.get("status") == "ok":
            if len(scene) == 0:
                row.update(psnr=None, ssim=None, note="decoded scene is empty")
            else:
                t0 = time.perf_counter()
                row.update(ev(scene))
                row["eval_s"] = time.perf_counter() - t0
        if row.get("bytes"):
            row["ratio_vs_ply"] = row["ply_bytes"] / row["bytes"]
            row["bits_per_splat"] = 8 * row["bytes"] / n
        rows.append(row)
        _print_row(row)

    # peers
    r, out = run_spz_js(ply, work, args.timeout)
    finish(r, dec_ply=out)
    r, out = run_splat_transform(ply, work, "spz", args.timeout)
    finish(r, dec_ply=out)
    if name in args.skip_sog:
        finish({"method": "SOG (splat-transform)", "family": "sog", "tool": "@playcanvas/splat-transform",
                "status": "skipped", "note": "skipped by --skip-sog"})
    else:
        r, out = run_splat_transform(ply, work, "sog", args.timeout)
        finish(r, dec_ply=out)
    # gsplat's PNG layout (our preset)
    if n <= args.gsplat_png_max:
        r, dec = run_ours(ref, "gsplat PNG layout (ours)", "gsplat-png", 3)
        finish(r, dec)
    else:
        finish({"method": "gsplat PNG layout (ours)", "family": "gsplat-png", "tool": "gscodec ptc",
                "params": {"preset": "gsplat-png"}, "status": "skipped",
                "note": f"skipped above {args.gsplat_png_max:,} splats (CPU PLAS sort too slow; --gsplat-png-max)"})
    # ours
    qualities = args.qualities_large if big else args.qualities
    for q in qualities:
        if big:
            r, dec = run_ours_limited(ply, work, f"ours q{q}", q, args.ours_timeout)
        else:
            r, dec = run_ours(ref, f"ours q{q}", "default", q)
        finish(r, dec)
    if not big:  # the same streams without importance refinement (v3's default), for the gain it brings
        for q in qualities:
            finish(*run_ours(ref, f"ours uniform q{q}", "uniform", q))
    # ours at each peer's PSNR (and at 45 dB) by --target-psnr: real streams, not interpolation
    goals = [(r["psnr"], r["method"]) for r in rows if r["family"] in TARGET_RATIO and r.get("status") == "ok"
             and r.get("psnr") is not None] + [(HIGH_PSNR_DB, f"{HIGH_PSNR_DB:g} dB")]
    if n > args.target_max:
        finish({"method": "ours --target-psnr", "family": "ours-target", "tool": "gscodec encode --target-psnr",
                "status": "skipped", "note": f"skipped above {args.target_max:,} splats (~20 renders per "
                "target; --target-max)"})
        goals = []
    for db, goal in goals:
        finish(*run_ours_target(ref, db, goal, n_views, res))
    skipped_q = [q for q in QUALITIES if q not in qualities]
    if skipped_q:
        finish({"method": "ours q" + ",".join(map(str, skipped_q)), "family": "ours", "tool": "gscodec ptc",
                "status": "skipped", "note": "not run at this size to keep the run ~15 min"})
    if load_notes:
        rows[0]["input_load_notes"] = load_notes
    for row in rows:
        row["nonfinite_opacity_in_input"] = nonfinite_in
    return rows


def _print_row(r: dict) -> None:
    print(f"    {r['method']:<26}{r.get('status', ''):<8}{_fmt(r.get('bytes'), ',d'):>12} B"
          f"{_fmt(r.get('ratio_vs_ply'), '.1f'):>7}x  enc {_fmt(r.get('encode_s'), '.2f'):>7} s  "
          f"dec {_fmt(r.get('decode_s'), '.2f'):>6} s  PSNR {_fmt(r.get('psnr'), '.2f'):>6}  "
          f"SSIM {_fmt(r.get('ssim'), '.4f'):>6}  n={r.get('splats_out', '-')}"
          + (f"  ({r['note']})" if r.get("note") else ""), flush=True)


# ---------------------------------------------------------------------------------------------
# goals
# ---------------------------------------------------------------------------------------------
def _timing_child(n: int, q: int, sh_rest_mode: str | None = None) -> None:
    """Child-process body of the speed goal: one JSON line on stdout."""
    import torch

    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.utils.timing import timed

    torch.set_num_threads(os.cpu_count() or 1)
    scene = synthetic_scene(n, seed=1, sh_noise=REALISTIC_SH_NOISE)
    codec = get_codec("ptc", preset="default", quality=q, **({"sh_rest_mode": sh_rest_mode} if sh_rest_mode else {}))
    data, enc = timed(codec.encode, scene)
    dec, dect = timed(decode_bytes, data)
    print(json.dumps({"bytes": len(data), "encode_s": enc, "decode_s": dect, "splats_out": len(dec),
                      "peak_rss_mb": _peak_rss_mb()}))


ENCODE_GOAL_S = {3: 10.0, 5: 20.0}  # issue #23: 500k splats, default quality <= 10 s, q5 < 20 s
DECODE_GOAL_S = 2.0


def timing_1m(n: int, qualities: list[str], timeout: float) -> list[dict]:
    """Encode + decode of an n-splat SH3 synthetic scene per quality, each in a fresh child
    process with a wall-clock limit (generation, ~10 s, is inside the limit but not the times)."""
    print(f"\n=== timing: {n:,} synthetic splats, SH degree 3 (encode + decode, no rendering)", flush=True)
    rows = []
    for qs in qualities:  # "3" (default k-means SH) or "3s" (scalar SH)
        from gscodec.codecs.ptc.config import make_config

        q, mode = int(qs.rstrip("s")), ("scalar" if qs.endswith("s") else "")
        load0 = os.getloadavg()[0]
        row = {"n": n, "quality": q, "sh_rest_mode": mode or make_config("default", q).sh_rest_mode, "loadavg_1m_before": load0,
               "timeout_s": timeout}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, __file__, "--_timing-child", str(n), str(q), mode],
                                  capture_output=True, text=True, timeout=timeout)
            if proc.returncode == 0:
                row.update(json.loads(proc.stdout.strip().splitlines()[-1]), status="ok")
            else:
                row.update(status="error", note=(proc.stderr.strip().splitlines() or ["?"])[-1])
        except subprocess.TimeoutExpired:
            row.update(status="timeout", note=f"generation + encode + decode did not finish in {timeout:.0f} s")
        row["wall_s"] = time.perf_counter() - t0
        row["encode_goal_s"] = ENCODE_GOAL_S.get(q)
        row["encode_goal_met"] = row.get("encode_s") is not None and row["encode_s"] <= (row["encode_goal_s"] or math.inf)
        row["decode_goal_met"] = row.get("decode_s") is not None and row["decode_s"] <= DECODE_GOAL_S
        row["loadavg_1m_after"] = os.getloadavg()[0]
        if row["status"] == "ok":
            print(f"    q{q} {row['sh_rest_mode']}: {row['bytes']:,} B  encode {row['encode_s']:.1f} s  decode {row['decode_s']:.2f} s"
                  f"  (load {load0:.2f})", flush=True)
        else:
            print(f"    q{q} {row['sh_rest_mode']}: {row['status']}: {row.get('note')}", flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small synthetic scene, fewer views and settings")
    ap.add_argument("--inputs", nargs="+", choices=ALL_INPUTS, default=list(ALL_INPUTS))
    ap.add_argument("--timeout", type=float, default=None, help="per peer conversion, seconds (default 180; quick 90)")
    ap.add_argument("--synthetic-n", type=int, default=None, help="default 500000 (quick 60000)")
    ap.add_argument("--timing-n", type=int, default=None, help="speed-goal scene size (default 500000; 0 = skip)")
    ap.add_argument("--gsplat-png-max", type=int, default=200_000)
    ap.add_argument("--target-max", type=int, default=200_000,
                    help="run --target-psnr at each peer's PSNR on inputs up to this many splats")
    ap.add_argument("--skip-sog", nargs="*", default=None,
                    help="inputs on which SOG is not run (default: synthetic, where its CPU k-means takes > 2 min)")
    ap.add_argument("--timing-timeout", type=float, default=240.0, help="per speed-goal child, seconds")
    ap.add_argument("--timing-qualities", nargs="+", default=["3", "5"],
                    help="qualities for the speed goal; suffix s = scalar SH rest instead of k-means")
    ap.add_argument("--large-qualities", type=int, nargs="+", default=None,
                    help="our qualities on inputs >= 300k splats (default 1 3 5 7; quick 1 5)")
    ap.add_argument("--out", type=Path, default=RESULTS / "ptc_vs_peers.json")
    ap.add_argument("--ours-timeout", type=float, default=240.0,
                    help="limit on our encode of inputs >= 300k splats (child process), seconds")
    ap.add_argument("--merge", action="store_true",
                    help="keep the existing .json's rows of inputs not run now (and its timing if not re-run)")
    ap.add_argument("--report-only", action="store_true", help="rewrite the .md from the existing .json")
    ap.add_argument("--_timing-child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_encode-child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.report_only:
        d = json.loads(args.out.read_text())
        write_markdown(args.out.with_suffix(".md"), d["meta"], d["rows"], matched_psnr(d["rows"]), d["timing"])
        plot_rd(d["rows"], args.out.with_suffix(".png"))
        return 0
    if args._encode_child:
        a = args._encode_child
        _encode_child(a[0], a[1], a[2], int(a[3]), a[4] or None)
        return 0
    if args._timing_child:
        _timing_child(int(args._timing_child[0]), int(args._timing_child[1]), args._timing_child[2] or None)
        return 0
    args.timeout = args.timeout or (90.0 if args.quick else 180.0)
    args.synthetic_n = args.synthetic_n or (60_000 if args.quick else 500_000)
    if args.timing_n is None:
        args.timing_n = 0 if args.quick else 500_000
    if args.skip_sog is None:
        args.skip_sog = [] if args.quick else [f"synthetic_{args.synthetic_n // 1000}k"]
    args.qualities = [1, 3, 5, 7] if args.quick else list(QUALITIES)
    args.qualities_large = args.large_qualities or ([1, 5] if args.quick else [1, 3, 5, 6, 7])
    args.views, args.res = (4, 128) if args.quick else (6, 192)
    args.views_large, args.res_large = (2, 128) if args.quick else (3, 160)

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "tools": _tool_versions(), "loadavg_start": list(os.getloadavg()),
            "quick": args.quick, "argv": sys.argv[1:], "timeout_s": args.timeout, "git_commit": START_COMMIT}
    print(json.dumps(meta), flush=True)
    rows, timing = [], []
    old_rows, old_timing = [], []
    if args.merge and args.out.is_file():
        old = json.loads(args.out.read_text())
        old_rows, old_timing = old["rows"], old.get("timing", [])
        meta["merged_from"] = old["meta"]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ptc_vs_peers_") as tmp:
        tmp = Path(tmp)
        for name in args.inputs:
            if name in REAL_INPUTS:
                ply = REAL_INPUTS[name]
                if not ply.is_file():
                    print(f"\n=== {name}: skipped, {ply} not found", flush=True)
                    continue
            elif name == "demo":
                if not DEMO_PLY.is_file():
                    print(f"\n=== demo: skipped, {DEMO_PLY.relative_to(ROOT)} does not exist "
                          "(train the built-in scene first: it writes runs/demo/scene.ply)", flush=True)
                    meta["demo_note"] = f"skipped: {DEMO_PLY.relative_to(ROOT)} does not exist"
                    continue
                ply = DEMO_PLY
            else:
                from gscodec.scene import save_ply

                t0 = time.perf_counter()
                ply = save_ply(synthetic_scene(args.synthetic_n, seed=0, sh_noise=REALISTIC_SH_NOISE),
                               tmp / f"synthetic_{args.synthetic_n}.ply")
                print(f"\n(synthetic scene of {args.synthetic_n:,} splats written in {time.perf_counter() - t0:.1f} s)")
            label = name if name != "synthetic" else f"synthetic_{args.synthetic_n // 1000}k"
            if not rows and old_rows:
                rows = [r for r in old_rows if r["input"] not in args.inputs and not r["input"].startswith(
                    "synthetic" if "synthetic" in args.inputs else "\0")]
            rows += bench_input(label, Path(ply), args, tmp)
            _write(args, meta, rows, timing)
        if args.timing_n:
            timing = timing_1m(args.timing_n, args.timing_qualities, args.timing_timeout)
        elif old_timing:
            timing = old_timing
    meta["loadavg_end"] = list(os.getloadavg())
    meta["total_s"] = time.perf_counter() - t_start
    goals = _write(args, meta, rows, timing)
    print("\n=== goals (matched PSNR)")
    for g in goals:
        print(f"    {g['input']:<16}{g['peer']:<26}{g['verdict']:<8}"
              + (f" ours {g['ours_bytes_interp']:,.0f} B (interpolated, {g['interp_between']}) vs {g['peer_bytes']:,} B"
                 f" = {g['ratio']:.3f} "
                 f"(target {g['target_ratio']:.3f})" if g.get("ratio") is not None else f" {g.get('why', '')}"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.md')} in {meta['total_s']:.0f} s")
    return 0


def _write(args, meta, rows, timing) -> list[dict]:
    goals = matched_psnr(rows)
    meta = {**meta}
    meta.setdefault("loadavg_end", list(os.getloadavg()))
    meta["load"] = LOAD_TIMES
    summ = summary(rows, goals, timing, LOAD_TIMES, START_COMMIT)
    meta["summary"] = summ
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return str(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    args.out.write_text(json.dumps(clean({"summary": summ, "meta": meta, "rows": rows, "goals": goals,
                                          "timing": timing}), indent=1) + "\n")
    write_markdown(args.out.with_suffix(".md"), meta, rows, goals, timing)
    plot_rd(rows, args.out.with_suffix(".png"))
    return goals


if __name__ == "__main__":
    sys.exit(main())
