"""Renderer benchmark: CPU numba tile rasterizer vs the pure-torch reference, and (where CUDA and
gsplat exist) parity of the CPU backend with gsplat.

Run `python bench/render.py` (or `--quick`; `--notes FILE` adds a Notes section). Each case
runs in a fresh child process so its peak resident memory (resource.getrusage ru_maxrss:
whole-process peak, including the interpreter, torch and numba, ~0.3-0.5 GB of baseline)
belongs to that case alone. Writes bench/results/render.json and .md (bench/common.py: meta
with commit, command, machine, load and date; summary: the 10k speed-ups, the 100k forward
time, whether GPU parity was measured, git_commit).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from common import START_COMMIT, run_meta, write_results  # noqa: E402  (START_COMMIT: the code as the run starts)


def _scene_and_camera(n: int, width: int, height: int, dtype="float32"):
    import torch

    from gscodec.data.cameras import orbit_cameras
    from gscodec.render import camera_tensors
    from gscodec.scene.gaussian import GaussianScene

    scene = GaussianScene.random(n, sh_degree=3, seed=0, extent=1.0)
    cam = orbit_cameras(1, 3.0, width=width, height=height, fov_deg=50.0)[0]
    vm, K = camera_tensors([cam], "cpu", getattr(torch, dtype))
    return scene, vm, K


def run_case(backend: str, n: int, width: int, height: int, repeats: int, backward: bool) -> dict:
    """Child-process body: median forward (and forward+backward) seconds and peak RSS."""
    import torch

    from gscodec.render import rasterization

    torch.set_num_threads(os.cpu_count() or 1)
    scene, vm, K = _scene_and_camera(n, width, height)

    def once(with_grad: bool):
        params = [t.clone().requires_grad_(with_grad)
                  for t in (scene.means, scene.quats, scene.scales, scene.opacities, scene.sh)]
        t0 = time.perf_counter()
        with torch.set_grad_enabled(with_grad):
            rc, ra, meta = rasterization(*params, vm, K, width, height, sh_degree=3, backend=backend)
            if with_grad:
                (rc.sum() + ra.sum()).backward()
        return time.perf_counter() - t0, meta, ra

    out = {"backend": backend, "n": n, "width": width, "height": height, "repeats": repeats}
    # first call also loads / compiles the numba kernels (the reference has none: forward only)
    t_warm, meta, ra = once(backward and backend != "cpu_reference")
    out["first_call_s"] = t_warm
    out["visible"] = int((meta["radii"] > 0).all(-1).sum())
    out["mean_alpha"] = float(ra.mean())
    fwd = [once(False)[0] for _ in range(repeats)]
    out["forward_s"], out["forward_min_s"] = statistics.median(fwd), min(fwd)
    if backward:
        both = [once(True)[0] for _ in range(repeats)]
        out["forward_backward_s"], out["forward_backward_min_s"] = statistics.median(both), min(both)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def child(spec: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:]
        return {**spec, "error": f"exit status {res.returncode} {' '.join(tail)}".strip()}
    return json.loads(res.stdout.strip().splitlines()[-1])


def gpu_parity(n: int = 100_000, size: int = 256) -> dict:
    """CPU backend vs gsplat on the same scene, when CUDA and gsplat are both available."""
    import torch

    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU was available in this run"}
    try:
        import gsplat  # noqa: F401
    except ImportError:
        return {"available": False, "note": "a GPU was present but gsplat is not installed"}
    from gscodec.render import rasterization

    scene, vm, K = _scene_and_camera(n, size, size)
    res = {}
    for dev in ("cuda", "cpu"):
        params = [t.to(dev).clone().requires_grad_(True)
                  for t in (scene.means, scene.quats, scene.scales, scene.opacities, scene.sh)]
        rc, ra, _ = rasterization(*params, vm.to(dev), K.to(dev), size, size, sh_degree=3,
                                  backend="gsplat" if dev == "cuda" else "cpu")
        (rc.sum() + ra.sum()).backward()
        res[dev] = (rc.detach().cpu(), [p.grad.cpu() for p in params])
    diff = (res["cuda"][0] - res["cpu"][0]).abs()
    grads = {name: float((a - b).norm() / b.norm().clamp_min(1e-12))
             for name, a, b in zip(("means", "quats", "scales", "opacities", "sh"),
                                   res["cuda"][1], res["cpu"][1])}
    return {"available": True, "n": n, "size": size, "max_abs_pixel_diff": float(diff.max()),
            "mean_abs_pixel_diff": float(diff.mean()), "grad_rel_err": grads,
            "gpu": torch.cuda.get_device_name(0)}


def versions() -> dict:
    import numba

    return {"platform": platform.platform(), "python": platform.python_version(), "numba": numba.__version__}


def fmt(x, unit="s"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f} {unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, skip the 1M case")
    ap.add_argument("--notes", help="a text file whose contents go into the report's Notes section")
    ap.add_argument("--out", default=str(RESULTS / "render"), help="results path without suffix")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_case(**spec)))
        return 0
    r = 2 if args.quick else 7
    specs = [
        dict(backend="cpu", n=10_000, width=256, height=256, repeats=r, backward=True),
        dict(backend="cpu", n=100_000, width=256, height=256, repeats=r, backward=True),
        dict(backend="cpu_reference", n=10_000, width=256, height=256, repeats=1,
             backward=True),
    ]
    if not args.quick:
        specs.append(dict(backend="cpu", n=1_000_000, width=800, height=600, repeats=2, backward=False))
    cases = []
    for spec in specs:
        print(f"running {spec['backend']} n={spec['n']} {spec['width']}x{spec['height']} ...", flush=True)
        load_before = os.getloadavg()[0]
        cases.append(child(spec))
        cases[-1]["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        print("   ", cases[-1], flush=True)
    fast10 = next(c for c in cases if c["backend"] == "cpu" and c["n"] == 10_000)
    ref10 = next(c for c in cases if c["backend"] == "cpu_reference")
    speedup = {k: ref10[k] / fast10[k] for k in ("forward_s", "forward_backward_s")
               if k in ref10 and k in fast10}
    fast100 = next(c for c in cases if c["backend"] == "cpu" and c["n"] == 100_000)
    parity = gpu_parity()
    summary = {"speedup_fast_vs_reference_10k": speedup, "cpu_100k_forward_s": fast100.get("forward_s"),
               "cpu_100k_forward_min_s": fast100.get("forward_min_s"), "gpu_parity_measured": parity["available"],
               "git_commit": START_COMMIT}
    meta = run_meta("render.py", quick=args.quick, **versions(), gpu_parity=parity,
                    memory_metric="resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh child process per case",
                    scene="GaussianScene.random(n, sh_degree=3, seed=0, extent=1), one orbit camera at "
                          "radius 3, fov 50 deg (splats a few pixels wide)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    return write_results(Path(args.out), "cases", cases, meta, args.notes, lambda *_: None, markdown, summary)


def markdown(cases: list[dict], m: dict) -> str:
    lines = ["# Renderer benchmark", "",
             f"{m['machine']}, numba {m['numba']}, Python {m['python']} ({m['platform']})"
             f"{' (--quick)' if m['quick'] else ''}; {m['date_utc']}; 1-minute load at the end "
             f"{m['loadavg_1min_end']}; commit {m['git_commit']}", f"`{m['command']}`", "",
             f"Scene: {m['scene']}. Times are medians after one warm-up call (the 'first call' "
             "column: it also loads or compiles the numba kernels; forward+backward for cpu, forward "
             "only for the reference); "
             f"memory: {m['memory_metric']}. The machine may be shared with other jobs while this "
             "runs (1-minute load average on its cores in the last column), so times are "
             "upper bounds; the minimum over the repeats is the best estimate of the cost on an idle "
             "machine.", "",
             "| backend | Gaussians | image | visible | forward median (min) | forward+backward median (min) "
             "| first call | peak RSS "
             "| load avg before/after |",
             "|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for c in cases:
        if "error" in c:
            lines.append(f"| {c['backend']} | {c['n']:,} | {c['width']}x{c['height']} | failed: {c['error']} ||||||")
            continue
        lines.append(f"| {c['backend']} | {c['n']:,} | {c['width']}x{c['height']} | {c['visible']:,} | "
                     f"{fmt(c['forward_s'])} ({fmt(c['forward_min_s'])}) | "
                     f"{fmt(c.get('forward_backward_s'))} ({fmt(c.get('forward_backward_min_s'))}) | "
                     f"{fmt(c['first_call_s'])} | "
                     f"{c['peak_rss_mb']:.0f} MB | {c['loadavg_1min'][0]} / {c['loadavg_1min'][1]} |")
    sp = m["summary"]["speedup_fast_vs_reference_10k"]
    lines += ["", "Speed-up of the numba backend over the pure-torch reference at 10k Gaussians: "
              + ", ".join(f"{k.replace('_s', '')} x{v:.1f}" for k, v in sp.items()), "",
              "## GPU parity (CPU backend vs gsplat)", ""]
    p = m["gpu_parity"]
    if not p["available"]:
        lines.append(f"Not measured: {p['note']}.")
    else:
        lines.append(f"{p['gpu']}, {p['n']:,} Gaussians at {p['size']}x{p['size']}: max |pixel diff| "
                     f"{p['max_abs_pixel_diff']:.2e}, mean {p['mean_abs_pixel_diff']:.2e}; gradient relative "
                     "errors " + ", ".join(f"{k} {v:.2e}" for k, v in p["grad_rel_err"].items()))
    if m.get("notes"):
        lines += ["", "## Notes", "", m["notes"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
