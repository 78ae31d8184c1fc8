"""Peer benchmark of the post-training codec (ptc): same input, same run, same metric.

Each input .ply is converted by
  * SPZ  - npm `spz-js` (port of Niantic's SPZ library) via bench/peers/spz_convert.mjs, and
           npm `@playcanvas/splat-transform` (.spz output, Adobe's @adobe/spz, SPZ v4);
  * SOG  - npm `@playcanvas/splat-transform` (.sog output, CPU encoder: `-g cpu`);
  * gsplat's PNG layout - our `gsplat-png` preset;
  * ours - the `default` preset at quality 1..5 (and, in full runs, codebook-size variants),
and every result is decoded back to a scene with the peer's own tool (peers write a .ply,
which we load). Each decoded scene is rendered with our CPU rasterizer from the same orbit
cameras as the original; PSNR / SSIM are against the original's renders (so they measure what
the codec lost). Compressed size, encode and decode wall time and splat counts are recorded.

Peer times are wall-clock times of the converter process (node start-up included, ~0.3-0.5 s;
the spz-js helper also reports its in-process times), ours are in-process encode()/decode()
times (no PLY parsing). All runs on the same machine in the same run.

    python bench/ptc_vs_peers.py                 # full run (~20 min on 2 cores)
    python bench/ptc_vs_peers.py --quick         # small synthetic scene, fewer views/qualities
    python bench/ptc_vs_peers.py --inputs small_sh3 guitar --timeout 300

npm peers live in bench/peers (`npm ci --prefix bench/peers`); methods whose tool is missing
are recorded as "skipped". Writes bench/results/ptc_vs_peers.json and .md.
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


# ---------------------------------------------------------------------------------------------
# synthetic scene with trained-like statistics
# ---------------------------------------------------------------------------------------------
def synthetic_scene(n: int, seed: int = 0, sh_degree: int = 3, extent: float = 10.0, sh_noise: float = 0.25):
    """A seeded scene that looks like a trained 3DGS output statistically, not like uniform noise.

    * positions: splats lie on surfaces - a ground plane (30 %), ~n/25k spheres and boxes of
      varied size (50 %), a far background shell (10 %, large splats, like a sky) - plus 10 %
      floaters spread through the volume; small normal jitter; the order is shuffled (training
      outputs are not spatially sorted);
    * scales: log-normal, flat along the surface normal (the normal axis 4-20x thinner),
      larger on the background shell; floaters are small and isotropic;
    * rotations: the surface frame (z to the normal) with a random spin about the normal;
    * opacity: bimodal logits - ~60 % near-opaque (N(4, 1.2)), ~40 % faint (N(-2.5, 1.2));
      floaters mostly faint;
    * colour: per-object base colour times a smooth positional texture, plus noise, as SH DC;
    * SH rest: small (band l std ~0.05/sqrt(l), like a real SH3 scene), a scaled copy of one of 256 per-scene lobe
      prototypes, tinted mostly grey plus the splat's own hue (channels strongly correlated), small
      independent noise; about a third of the splats nearly view-independent.
    """
    import torch

    from gscodec.scene.gaussian import GaussianScene, sh_coeffs_for_degree

    rng = np.random.default_rng(seed)
    C0 = 0.28209479177387814
    n_ground, n_obj, n_bg = int(0.3 * n), int(0.5 * n), int(0.1 * n)
    n_float = n - n_ground - n_obj - n_bg
    pos, nrm, obj_id = [], [], []

    # ground plane z = 0 over [-extent, extent]^2, denser near the centre
    g = rng.normal(0, extent / 2.5, size=(n_ground, 2)).clip(-extent, extent)
    pos.append(np.c_[g, np.zeros(n_ground)])
    nrm.append(np.tile([0.0, 0.0, 1.0], (n_ground, 1)))
    obj_id.append(np.zeros(n_ground, int))

    # objects: spheres and axis-aligned boxes standing on the ground
    n_objects = max(6, n // 25000)
    centres = np.c_[rng.uniform(-0.7 * extent, 0.7 * extent, (n_objects, 2)), np.zeros(n_objects)]
    sizes = np.exp(rng.normal(np.log(0.08 * extent), 0.5, n_objects))
    centres[:, 2] = sizes
    weights = sizes ** 2 / (sizes ** 2).sum()
    which = rng.choice(n_objects, size=n_obj, p=weights)
    is_box = rng.random(n_objects) < 0.4
    d = rng.normal(size=(n_obj, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    box = is_box[which]
    # box surface: push the largest coordinate to +-1 (normal is that axis)
    ax = np.abs(d).argmax(1)
    dbox = d / np.abs(d).max(1, keepdims=True)
    nbox = np.zeros_like(d)
    nbox[np.arange(n_obj), ax] = np.sign(d[np.arange(n_obj), ax])
    p = np.where(box[:, None], dbox, d) * sizes[which, None] + centres[which]
    pos.append(p)
    nrm.append(np.where(box[:, None], nbox, d))
    obj_id.append(which + 1)

    # background shell (sky / far walls)
    d = rng.normal(size=(n_bg, 3))
    d[:, 2] = np.abs(d[:, 2]) * 0.6
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pos.append(d * 3.0 * extent)
    nrm.append(-d)
    obj_id.append(np.full(n_bg, n_objects + 1))

    # floaters
    pos.append(rng.uniform(-extent, extent, (n_float, 3)) * [1, 1, 0.4] + [0, 0, 0.4 * extent])
    f = rng.normal(size=(n_float, 3))
    nrm.append(f / np.linalg.norm(f, axis=1, keepdims=True))
    obj_id.append(np.full(n_float, n_objects + 2))

    pos, nrm, obj_id = np.concatenate(pos), np.concatenate(nrm), np.concatenate(obj_id)
    kind = np.concatenate([np.zeros(n_ground), np.ones(n_obj), np.full(n_bg, 2), np.full(n_float, 3)]).astype(int)
    pos = pos + nrm * rng.normal(0, 0.002 * extent, (n, 1))

    # scales (log): tangential log-normal, normal axis thinner; background larger, floaters isotropic
    base = np.log(0.004 * extent) + rng.normal(0, 0.6, n)
    base[kind == 2] += np.log(12.0)
    tang = base[:, None] + rng.normal(0, 0.35, (n, 2))
    thin = base - np.log(rng.uniform(4, 20, n))
    log_scales = np.c_[tang, thin]
    fl = kind == 3
    log_scales[fl] = (base[fl] - 0.5)[:, None] + rng.normal(0, 0.2, (fl.sum(), 3))

    # rotation: frame with z -> normal, random spin about the normal (w, x, y, z)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(np.broadcast_to(z, nrm.shape), nrm)
    s = np.linalg.norm(axis, axis=1)
    c = nrm @ z
    ang = np.arctan2(s, c)
    axis = np.where(s[:, None] > 1e-9, axis / np.maximum(s, 1e-12)[:, None], [1.0, 0.0, 0.0])
    q_align = np.c_[np.cos(ang / 2), axis * np.sin(ang / 2)[:, None]]
    spin = rng.uniform(0, 2 * np.pi, n)
    q_spin = np.c_[np.cos(spin / 2), np.zeros(n), np.zeros(n), np.sin(spin / 2)]

    def qmul(a, b):
        w1, x1, y1, z1 = a.T
        w2, x2, y2, z2 = b.T
        return np.c_[w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2]

    quats = qmul(q_align, q_spin)
    quats *= np.exp(rng.normal(0, 0.3, (n, 1)))  # trained quaternions are not unit-norm
    quats *= np.where(rng.random((n, 1)) < 0.5, 1.0, -1.0)

    # opacity: bimodal logits
    opaque = rng.random(n) < np.where(kind == 3, 0.1, 0.62)
    opacity = np.where(opaque, rng.normal(4.0, 1.2, n), rng.normal(-2.5, 1.2, n))

    # colour: per-object base colour, smooth positional texture, noise -> SH DC
    obj_rgb = rng.uniform(0.1, 0.9, (n_objects + 3, 3))
    tex = 0.5 + 0.5 * np.sin(pos @ rng.normal(0, 3.0 / extent, (3, 3)) + rng.uniform(0, 6, 3))
    rgb = obj_rgb[obj_id] * (0.6 + 0.4 * tex) + rng.normal(0, 0.05, (n, 3))
    sh_dc = (rgb - 0.5) / C0

    k = sh_coeffs_for_degree(sh_degree) - 1
    band = np.array([int(math.isqrt(i + 1)) for i in range(k)])  # 1, 1, 1, 2, ... per coefficient
    std = 0.05 / np.sqrt(np.maximum(band, 1))
    # view-dependent lobes repeat across a scene (materials, lighting): 256 prototype lobes per
    # scene, each splat one of them scaled, tinted mostly grey (channels correlate strongly in
    # trained scenes) with a share of its own DC hue; small independent noise on top
    protos = rng.normal(0, 1, (256, k)) * std
    lobe = protos[rng.integers(0, 256, n)] * np.exp(rng.normal(0, 0.4, (n, 1)))
    hue = np.clip(rgb, 0.05, 1.0) / np.clip(rgb, 0.05, 1.0).mean(1, keepdims=True)
    tint = 0.7 + 0.3 * hue
    noise = rng.normal(0, 1, (n, k, 3)) * std[None, :, None] * sh_noise
    view_dep = rng.random(n) > 0.33
    sh_rest = (lobe[:, :, None] * tint[:, None, :] + noise) * np.where(view_dep, 1.0, 0.15)[:, None, None]

    perm = rng.permutation(n)
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a[perm], dtype=np.float32))  # noqa: E731
    return GaussianScene(means=f32(pos), quats=f32(quats), log_scales=f32(log_scales),
                         opacity_logits=f32(opacity), sh_dc=f32(sh_dc), sh_rest=f32(sh_rest))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _load_ply(path: Path):
    """load_ply, with its warnings (e.g. clamped +-inf opacity logits) captured as notes."""
    from gscodec.scene import load_ply

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_ply(path)
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
def run_ours(scene, label: str, preset: str, quality: int, **overrides) -> tuple[dict, object]:
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.utils.timing import timed
    from gscodec.codecs.info import gsz_summary

    codec = get_codec("ptc", preset=preset, quality=quality, **overrides)
    data, enc = timed(codec.encode, scene)
    dec, dect = timed(decode_bytes, data)
    info = gsz_summary(data)
    sections = {r["name"]: {"bytes": r["bytes"], "method": r["method"]} for r in info["sections"]}
    params = {"preset": preset, "quality": quality, **overrides}
    row = {"method": label, "family": "ours" if preset == "default" else "gsplat-png", "tool": "gscodec ptc",
           "params": params, "bytes": len(data), "encode_s": enc, "decode_s": dect,
           "splats_out": len(dec), "sections": sections, "status": "ok"}
    return row, dec


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
    sections = {r["name"]: {"bytes": r["bytes"], "method": r["method"]} for r in gsz_summary(data)["sections"]}
    print(json.dumps({"encode_s": enc, "decode_s": dect, "bytes": len(data), "sections": sections}))


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
               sections=inner["sections"], status="ok")
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
    ref, load_notes = _load_ply(ply)
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
    if big:
        for q in qualities:
            r, dec = run_ours_limited(ply, work, f"ours q{q} scalar SH", q, args.ours_timeout, "scalar")
            finish(r, dec)
    skipped_q = [q for q in range(1, 6) if q not in qualities]
    if skipped_q:
        finish({"method": "ours q" + ",".join(map(str, skipped_q)), "family": "ours", "tool": "gscodec ptc",
                "status": "skipped", "note": "not run at this size to keep the run ~20 min (k-means encode time)"})
    if not args.quick and not big and ref.sh_degree > 0:
        for label, kw in (("ours q3 cb256", dict(codebook_size=256)), ("ours q3 cb1024", dict(codebook_size=1024)),
                          ("ours q3 scalar SH", dict(sh_rest_mode="scalar"))):
            r, dec = run_ours(ref, label, "default", 3, **kw)
            finish(r, dec)
    if load_notes:
        rows[0]["input_load_notes"] = load_notes
    for row in rows:
        row["nonfinite_opacity_in_input"] = nonfinite_in
    return rows


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _print_row(r: dict) -> None:
    print(f"    {r['method']:<26}{r.get('status', ''):<8}{_fmt(r.get('bytes'), ',d'):>12} B"
          f"{_fmt(r.get('ratio_vs_ply'), '.1f'):>7}x  enc {_fmt(r.get('encode_s'), '.2f'):>7} s  "
          f"dec {_fmt(r.get('decode_s'), '.2f'):>6} s  PSNR {_fmt(r.get('psnr'), '.2f'):>6}  "
          f"SSIM {_fmt(r.get('ssim'), '.4f'):>6}  n={r.get('splats_out', '-')}"
          + (f"  ({r['note']})" if r.get("note") else ""), flush=True)


# ---------------------------------------------------------------------------------------------
# goals
# ---------------------------------------------------------------------------------------------
def matched_psnr(rows: list[dict]) -> list[dict]:
    """For each ok peer point: our smallest default-preset file whose PSNR >= the peer's."""
    out = []
    by_input: dict[str, list[dict]] = {}
    for r in rows:
        by_input.setdefault(r["input"], []).append(r)
    for inp, rs in by_input.items():
        ours = [r for r in rs if r["family"] == "ours" and r.get("status") == "ok" and r.get("psnr") is not None]
        for peer in rs:
            if peer["family"] not in ("spz", "sog"):
                continue
            target = 0.5 if peer["family"] == "sog" else 1 / 3
            entry = {"input": inp, "peer": peer["method"], "family": peer["family"], "target_ratio": target,
                     "peer_status": peer.get("status")}
            if peer.get("status") != "ok" or peer.get("psnr") is None:
                entry.update(verdict="n/a", why=peer.get("note", peer.get("status")))
                out.append(entry)
                continue
            ok = [r for r in ours if r["psnr"] >= peer["psnr"]]
            entry.update(peer_bytes=peer["bytes"], peer_psnr=peer["psnr"])
            if not ok:
                best = max(ours, key=lambda r: r["psnr"]) if ours else None
                entry.update(verdict="not met", why="no setting of ours reaches the peer's PSNR"
                             + (f" (best {best['method']}: {best['psnr']:.2f} dB)" if best else ""))
            else:
                m = min(ok, key=lambda r: r["bytes"])
                ratio = m["bytes"] / peer["bytes"]
                entry.update(ours=m["method"], ours_bytes=m["bytes"], ours_psnr=m["psnr"], ratio=ratio,
                             verdict="met" if ratio <= target else "not met")
            out.append(entry)
    return out


def _timing_child(n: int, q: int, sh_rest_mode: str | None = None) -> None:
    """Child-process body of the speed goal: one JSON line on stdout."""
    import torch

    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.utils.timing import timed

    torch.set_num_threads(os.cpu_count() or 1)
    scene = synthetic_scene(n, seed=1)
    codec = get_codec("ptc", preset="default", quality=q, **({"sh_rest_mode": sh_rest_mode} if sh_rest_mode else {}))
    data, enc = timed(codec.encode, scene)
    dec, dect = timed(decode_bytes, data)
    print(json.dumps({"bytes": len(data), "encode_s": enc, "decode_s": dect, "splats_out": len(dec)}))


def timing_1m(n: int, qualities: list[str], timeout: float) -> list[dict]:
    """Encode + decode of an n-splat SH3 synthetic scene per quality, each in a fresh child
    process with a wall-clock limit (generation, ~10 s, is inside the limit but not the times)."""
    print(f"\n=== timing: {n:,} synthetic splats, SH degree 3 (encode + decode, no rendering)", flush=True)
    rows = []
    for qs in qualities:  # "3" (default k-means SH) or "3s" (scalar SH)
        q, mode = int(qs.rstrip("s")), ("scalar" if qs.endswith("s") else "")
        load0 = os.getloadavg()[0]
        row = {"n": n, "quality": q, "sh_rest_mode": mode or "kmeans", "loadavg_1m_before": load0,
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
        row["encode_goal_met"] = row.get("encode_s") is not None and row["encode_s"] <= 60.0
        row["decode_goal_met"] = row.get("decode_s") is not None and row["decode_s"] <= 3.0
        row["loadavg_1m_after"] = os.getloadavg()[0]
        if row["status"] == "ok":
            print(f"    q{q} {row['sh_rest_mode']}: {row['bytes']:,} B  encode {row['encode_s']:.1f} s  decode {row['decode_s']:.2f} s"
                  f"  (load {load0:.2f})", flush=True)
        else:
            print(f"    q{q} {row['sh_rest_mode']}: {row['status']}: {row.get('note')}", flush=True)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def write_markdown(path: Path, meta: dict, rows: list[dict], goals: list[dict], timing: list[dict]) -> None:
    L = ["# Post-training codec (ptc) vs peers", "",
         f"Generated by `python bench/ptc_vs_peers.py{' --quick' if meta['quick'] else ''}` on {meta['date']}.",
         f"Machine: {meta['platform']}, {meta['cpu_count']} CPU cores (shared: load average "
         f"{meta['loadavg_start'][0]:.2f} at start, {meta['loadavg_end'][0]:.2f} at end), torch {meta['torch']}, "
         f"node {meta['tools'].get('node')}. Tools: spz-js {meta['tools'].get('spz-js')}, "
         f"@playcanvas/splat-transform {meta['tools'].get('@playcanvas/splat-transform')} "
         f"(SPZ writer @adobe/spz {meta['tools'].get('@adobe/spz')}), SOG encoded with `-g cpu`.", "",
         "PSNR/SSIM: our CPU rasterizer renders the decoded scene and the original from the same orbit "
         "cameras (`auto_orbit`, black background); the original's renders are the reference. Peer times are "
         "wall times of the node converter process (start-up and PLY parsing included); ours are in-process "
         "`encode()` / `decode()` times. Timings are noisy: the 2 cores are shared with other jobs.", ""]
    if meta.get("notes"):
        L += ["Notes on this run:", ""] + [f"- {n}" for n in meta["notes"]] + [""]
    by_input: dict[str, list[dict]] = {}
    for r in rows:
        by_input.setdefault(r["input"], []).append(r)
    for inp, rs in by_input.items():
        r0 = rs[0]
        L += [f"## {inp}: {r0['splats_in']:,} splats, SH degree {r0['sh_degree']}, PLY {r0['ply_bytes']:,} B", "",
              f"{r0['views']} views at {r0['resolution']}x{r0['resolution']}."
              + (f" Non-finite opacity values in the input PLY: {r0['nonfinite_opacity_in_input']}."
                 if r0.get("nonfinite_opacity_in_input", 0) > 0 else ""), "",
              "| method | bytes | x smaller than PLY | bits/splat | PSNR dB | SSIM | encode s | decode s | splats out | note |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rs:
            note = r.get("note", "")
            if r.get("nonfinite_opacity_in_decoded_ply", 0) > 0:
                note += f" decoded PLY has {r['nonfinite_opacity_in_decoded_ply']} non-finite opacities"
            if r.get("status") not in ("ok", None):
                note = f"**{r['status']}**: {note}"
            L.append(f"| {r['method']} | {_fmt(r.get('bytes'), ',d')} | {_fmt(r.get('ratio_vs_ply'), '.1f')} | "
                     f"{_fmt(r.get('bits_per_splat'), '.1f')} | {_fmt(r.get('psnr'), '.2f')} | "
                     f"{_fmt(r.get('ssim'), '.4f')} | {_fmt(r.get('encode_s'), '.2f')} | "
                     f"{_fmt(r.get('decode_s'), '.2f')} | {r.get('splats_out', '-')} | {note.strip()} |")
        for fam, title in (("ours", "Our sections (default preset; `gscodec info`)"),
                           ("gsplat-png", "gsplat PNG layout sections")):
            ours = [r for r in rs if r.get("sections") and r.get("status") == "ok" and r["family"] == fam]
            if not ours:
                continue
            names = []
            for r in ours:
                names += [s for s in r["sections"] if s not in names]
            L += ["", f"{title}: bytes (share of the file)", "",
                  "| method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            for r in ours:
                cells = []
                for s in names:
                    sec = r["sections"].get(s)
                    cells.append("-" if sec is None else f"{sec['bytes']:,} ({100 * sec['bytes'] / r['bytes']:.0f}%)")
                L.append(f"| {r['method']} | " + " | ".join(cells) + " |")
        L.append("")
    L += ["## Goals (matched PSNR)", "",
          "For each peer point, our smallest default-preset setting whose PSNR is at least the peer's; "
          "goal: at most 1/2 of SOG's bytes, at most 1/3 of SPZ's bytes.", "",
          "| input | peer | peer bytes | peer PSNR | ours | ours bytes | ours PSNR | ours/peer | target | verdict |",
          "|---|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for g in goals:
        L.append(f"| {g['input']} | {g['peer']} | {_fmt(g.get('peer_bytes'), ',d')} | {_fmt(g.get('peer_psnr'), '.2f')} | "
                 f"{g.get('ours', '-')} | {_fmt(g.get('ours_bytes'), ',d')} | {_fmt(g.get('ours_psnr'), '.2f')} | "
                 f"{_fmt(g.get('ratio'), '.3f')} | {g['target_ratio']:.3f} | **{g['verdict']}**"
                 + (f" ({g['why']})" if g.get("why") else "") + " |")
    if timing:
        L += ["", f"## Speed goal: {timing[0]['n']:,} synthetic splats, SH degree 3, 2 cores "
              "(encode <= 60 s, decode <= 3 s)", "",
              "| quality | SH rest | bytes | encode s | decode s | load avg before | encode goal | decode goal |",
              "|---|---|---:|---:|---:|---:|---|---|"]
        for t in timing:
            enc = _fmt(t.get("encode_s"), ".1f") if t["status"] == "ok" else f"> {t['timeout_s']:.0f} ({t['status']})"
            L.append(f"| q{t['quality']} | {t['sh_rest_mode']} | {_fmt(t.get('bytes'), ',d')} | {enc} | {_fmt(t.get('decode_s'), '.2f')} | "
                     f"{t['loadavg_1m_before']:.2f} | {'met' if t['encode_goal_met'] else 'not met'} | "
                     f"{'met' if t['decode_goal_met'] else ('not met' if t['status'] == 'ok' else 'unknown')} |")
    path.write_text("\n".join(L) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small synthetic scene, fewer views and settings")
    ap.add_argument("--inputs", nargs="+", choices=ALL_INPUTS, default=list(ALL_INPUTS))
    ap.add_argument("--timeout", type=float, default=None, help="per peer conversion, seconds (default 180; quick 90)")
    ap.add_argument("--synthetic-n", type=int, default=None, help="default 500000 (quick 60000)")
    ap.add_argument("--timing-n", type=int, default=None, help="speed-goal scene size (default 1000000; 0 = skip)")
    ap.add_argument("--gsplat-png-max", type=int, default=200_000)
    ap.add_argument("--skip-sog", nargs="*", default=[], help="inputs on which SOG is not run")
    ap.add_argument("--timing-timeout", type=float, default=240.0, help="per speed-goal child, seconds")
    ap.add_argument("--timing-qualities", nargs="+", default=["3", "3s"],
                    help="qualities for the speed goal; suffix s = scalar SH rest instead of k-means")
    ap.add_argument("--large-qualities", type=int, nargs="+", default=None,
                    help="our qualities on inputs >= 300k splats (default 1 3; quick 1)")
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
        args.timing_n = 0 if args.quick else 1_000_000
    args.qualities = [1, 3, 5] if args.quick else [1, 2, 3, 4, 5]
    args.qualities_large = args.large_qualities or ([1] if args.quick else [1, 3])
    args.views, args.res = (4, 128) if args.quick else (6, 192)
    args.views_large, args.res_large = (2, 128) if args.quick else (3, 160)

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "tools": _tool_versions(), "loadavg_start": list(os.getloadavg()),
            "quick": args.quick, "argv": sys.argv[1:], "timeout_s": args.timeout}
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
                ply = save_ply(synthetic_scene(args.synthetic_n, seed=0), tmp / f"synthetic_{args.synthetic_n}.ply")
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
              + (f" ours {g['ours']} {g['ours_bytes']:,} B vs {g['peer_bytes']:,} B = {g['ratio']:.3f} "
                 f"(target {g['target_ratio']:.3f})" if g.get("ratio") is not None else f" {g.get('why', '')}"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.md')} in {meta['total_s']:.0f} s")
    return 0


def _write(args, meta, rows, timing) -> list[dict]:
    goals = matched_psnr(rows)
    meta = {**meta}
    meta.setdefault("loadavg_end", list(os.getloadavg()))
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return str(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    args.out.write_text(json.dumps(clean({"meta": meta, "rows": rows, "goals": goals, "timing": timing}), indent=1) + "\n")
    write_markdown(args.out.with_suffix(".md"), meta, rows, goals, timing)
    return goals


if __name__ == "__main__":
    sys.exit(main())
