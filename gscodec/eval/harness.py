"""`gscodec bench SPEC`: run every (scene, codec, rate point) of a spec, one JSON line per job.

A spec (TOML, or YAML when PyYAML is installed) looks like:

    name = "builtin"                 # run name
    out = "bench/results/builtin"    # run folder (relative to the current directory)
    anchor = "ptc"                   # codec label BD-rates are computed against (default: first)
    views = 12                       # orbit views, for .ply scenes (no dataset)
    resolution = 128                 # orbit image size, for .ply scenes
    # lpips_weights = "alex.pth"     # optional; else GSCODEC_LPIPS_WEIGHTS; else LPIPS is skipped
    # references = ["HAC"]           # published series to show (default: all for the dataset)
    # notes = "..."                  # free text copied into the report
    # work = "/shared/gscodec-work"  # trained scenes and job files (default OUT/work; shared on a cluster)
    # report = "bench/my_plugin.py"  # a report plug-in: sections and a summary of its own (gscodec.eval.report)

    [resources]                      # what each job asks of a Ray cluster (--engine ray); optional
    num_cpus = 1                     # also the job's torch / numba threads
    # num_gpus = 1 ; memory = 4e9    # default: a GPU for jobs that train when the cluster has one

    [train]                          # TrainConfig fields for every dataset scene
    iterations = 1000

    [[scene]]
    name = "builtin"
    source = "builtin"               # 'builtin[:RES]', a dataset folder or a .ply file
    dataset = "builtin"              # dataset label: groups averages, matches published numbers
    # downscale = 2 ; train = { iterations = 500 }   (per-scene overrides)

    [[codec]]
    label = "ptc"                    # name in tables and plots (default: the codec name)
    name = "ptc"                     # registry name
    config = { preset = "default" }  # fixed codec settings
    rate_param = "quality"           # the setting that varies ...
    rates = [1, 3, 5]                # ... over these rate points (quality levels, lambdas, ...)
    # train_with_compression = true  # a codec trained per rate point (default: the codec says)
    # resources = { num_cpus = 2 }   # this codec's jobs (over [resources])
    # train = { simulation = { quantization = "ste" } }   # this codec's training (over the scene's;
    #                                  nested tables merge key by key)

Post-training codecs reuse ONE trained scene per (scene, training config), cached as
`WORK/trained/<scene>-<hash>/scene.ply` (WORK: `--work`, else the spec's `work`, else
OUT/work); codecs that train with compression are trained per rate point. Each job encodes, decodes from the written file alone, renders the test views
and records PSNR / SSIM / LPIPS, size, section breakdown, splat count, times and device.
Results are appended to `OUT/results.jsonl`; a re-run skips jobs already recorded as `ok`
with the same configuration (resume), and a failing job is recorded with its error while the
others go on. Jobs run one after another in this process (`engine="local"`), or as Ray tasks
(`engine="ray"`, gscodec/eval/ray_engine.py); both write the same records.
"""
from __future__ import annotations

import json
import math
import os
import platform
import socket
import time
import traceback
from pathlib import Path
from typing import Callable

from gscodec.errors import InputError
from gscodec.eval.spec import (  # noqa: F401 - re-exported: the harness is where callers find the spec
    CodecSpec,
    Job,
    Resources,
    SceneSpec,
    Spec,
    _is_dynamic,
    _slug,
    expand_jobs,
    load_spec,
    spec_from_dict,
    train_hash,
)
from gscodec.scoring import score_dataset

ENGINES = ("local", "ray")
RESULTS_NAME = "results.jsonl"
SPEC_NAME = "spec.json"


def read_results(path: str | Path) -> list[dict]:
    """Every record of a results file, in order (a torn last line from a crash is ignored)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def latest_records(records: list[dict]) -> dict[str, dict]:
    """key -> the last record of that job (a re-run supersedes earlier records)."""
    last: dict[str, dict] = {}
    for r in records:
        if "key" in r:
            last[r["key"]] = r
    return last


def _append(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True, allow_nan=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ---- the real job --------------------------------------------------------------------------
class Context:
    """Shared state of one bench run: loaded datasets and trained scenes are reused by jobs."""

    def __init__(self, spec: Spec, out_dir: Path, progress: bool = False, work: str | Path | None = None):
        self.spec, self.out, self.progress = spec, Path(out_dir), progress
        self.work = Path(work or spec.work or self.out / "work")
        self._datasets: dict = {}
        self._trained: dict = {}
        self._warmed: set = set()

    def warm_up(self, codec, name: str, scene) -> None:
        """Encode a small slice of `scene` once per codec entry of the spec (its label: presets
        of one codec take different paths, e.g. gsplat's PNG layout sorts into a grid), untimed,
        so one-time costs (numba compilation, lazy imports) do not land in a job's encode time."""
        if name in self._warmed:
            return
        self._warmed.add(name)
        import torch

        try:
            codec.encode(scene.subset(torch.arange(min(len(scene), 512))))
        except Exception:  # noqa: BLE001 - the timed encode reports any real error
            pass

    def dataset(self, scene: SceneSpec):
        from gscodec.data.load import load_dataset

        k = (scene.source, scene.downscale)
        if k not in self._datasets:
            self._datasets[k] = load_dataset(scene.source, downscale=scene.downscale)
        return self._datasets[k]

    def trained(self, scene: SceneSpec, train_config: dict):
        """(GaussianScene, info dict), training once per (scene, training config), cached on disk."""
        from gscodec.scene import load_ply, save_ply
        from gscodec.train.config import TrainConfig
        from gscodec.train.trainer import Trainer
        from gscodec.utils.io import atomic_write_text

        h = train_hash(scene, train_config)
        k = (scene.name, h)
        if k in self._trained:
            return self._trained[k]
        d = self.work / "trained" / f"{_slug(scene.name)}-{h}"
        ply, info_path = d / "scene.ply", d / "train.json"
        if ply.is_file() and info_path.is_file():
            info = json.loads(info_path.read_text())
            info["cached"] = True
            self._trained[k] = (load_ply(ply), info)
            return self._trained[k]
        ds = self.dataset(scene)
        if ds.dynamic:
            raise InputError(f"scene {scene.name!r} is dynamic ({ds.n_frames} frames): code it with a dynamic codec "
                             "(dynamic-gscodec), not a static one")
        cfg = TrainConfig.from_dict(train_config)
        trainer = Trainer(ds, cfg, d)
        t0 = time.perf_counter()
        trainer.train(progress=self.progress)
        train_seconds = time.perf_counter() - t0
        model = trainer.model.export()
        save_ply(model, ply)
        m = evaluate_views(model, ds, self.spec.lpips_weights)
        info = {"train_seconds": train_seconds, "train_iterations": int(trainer.step), "splats": len(model),
                "bytes": ply.stat().st_size, "psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"],
                "device": str(trainer.device)}
        atomic_write_text(info_path, json.dumps(info, indent=2))
        info["cached"] = False
        self._trained[k] = (model, info)
        return self._trained[k]


def evaluate_views(scene, ds, lpips_weights: str | None = None) -> dict:
    """Mean PSNR / SSIM / LPIPS (None without weights) of `scene` on the dataset's test views
    (gscodec.scoring, so anchor scenes too)."""
    if not ds.test_indices:
        raise InputError("the dataset has no test views to evaluate on")
    return score_dataset(scene, ds, lpips=True, lpips_weights=lpips_weights).mean()


def _sections(data: bytes) -> list[dict]:
    from gscodec.codecs.info import gsz_summary

    return [{"name": r["name"], "bytes": int(r["bytes"])} for r in gsz_summary(data)["sections"]]


def run_job(job: Job, ctx: Context) -> dict:
    """Train (or load) -> encode -> decode from the file alone -> test-view metrics."""
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.utils.io import atomic_write_bytes

    job_dir = ctx.work / "jobs" / job.slug
    job_dir.mkdir(parents=True, exist_ok=True)

    if job.trains:  # trained with compression: one training per rate point
        if job.scene.is_ply:
            raise InputError(f"codec {job.codec.name!r} trains with compression; it needs a dataset, not a .ply")
        if _is_dynamic(job.codec):
            return _run_dynamic_job(job, ctx, job_dir)
        from gscodec.train.config import TrainConfig
        from gscodec.train.run import train_and_compress

        ds = ctx.dataset(job.scene)
        res = train_and_compress(ds, TrainConfig.from_dict(job.train_config), job_dir, codec=job.codec.name,
                                 codec_config=job.codec_config, progress=ctx.progress,
                                 lpips_weights=ctx.spec.lpips_weights)
        m = res.metrics
        data = (job_dir / "scene.gsz").read_bytes()
        return {"psnr": m["compressed"]["psnr"], "ssim": m["compressed"]["ssim"], "lpips": m.get("lpips"),
                "lpips_note": m.get("lpips_note"), "bytes": len(data), "sections": _sections(data),
                "splats": m["decoded_splats"], "encode_seconds": m["encode_seconds"],
                "decode_seconds": m["decode_seconds"], "train_seconds": m["train_seconds"], "train_shared": False,
                "train_iterations": m.get("train_iterations"), "device": m.get("device", "cpu"),
                "views": len(ds.test_indices), "reference": "ground truth",
                "attribute_coding": (m.get("codec_stats") or {}).get("attributes"),
                "uncompressed": {"psnr": m["uncompressed"]["psnr"], "ssim": m["uncompressed"]["ssim"],
                                 "bytes": m["uncompressed"]["bytes"], "splats": m["splats"]}}

    if job.scene.is_ply:
        from gscodec.scene import load_ply

        src = Path(job.scene.source)
        if not src.is_file():
            raise InputError(f"{src}: no such .ply")
        scene = load_ply(src)
        info = {"train_seconds": None, "train_iterations": None, "splats": len(scene), "bytes": src.stat().st_size,
                "psnr": math.inf, "ssim": 1.0, "lpips": 0.0, "device": "cpu"}
    else:
        scene, info = ctx.trained(job.scene, job.train_config)

    codec = get_codec(job.codec.name, **job.codec_config)
    ctx.warm_up(codec, job.codec.label, scene)
    t0 = time.perf_counter()
    data = codec.encode(scene)
    encode_seconds = time.perf_counter() - t0
    gsz = job_dir / "scene.gsz"
    atomic_write_bytes(gsz, data)
    blob = gsz.read_bytes()  # decode from the file alone
    t0 = time.perf_counter()
    decoded = decode_bytes(blob)
    decode_seconds = time.perf_counter() - t0

    if job.scene.is_ply:
        from gscodec.eval.compare import auto_orbit, compare_scenes

        cams = auto_orbit(scene, ctx.spec.views, ctx.spec.resolution)
        m = compare_scenes(scene, decoded, cams, lpips_weights=ctx.spec.lpips_weights, progress=False)
        m = {"psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"], "views": len(cams),
             "lpips_note": None if m["lpips"] is not None else "no LPIPS weights"}
        reference = "reference renders (orbit)"
    else:
        m = evaluate_views(decoded, ctx.dataset(job.scene), ctx.spec.lpips_weights)
        reference = "ground truth"
    return {"psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"], "lpips_note": m.get("lpips_note"),
            "bytes": len(blob), "sections": _sections(blob), "splats": len(decoded),
            "encode_seconds": encode_seconds, "decode_seconds": decode_seconds,
            "train_seconds": info["train_seconds"], "train_shared": info["train_seconds"] is not None,
            "train_iterations": info["train_iterations"], "device": info.get("device", "cpu"),
            "views": m["views"], "reference": reference,
            "uncompressed": {"psnr": info["psnr"], "ssim": info["ssim"], "lpips": info.get("lpips"),
                             "bytes": info["bytes"], "splats": info["splats"]}}


def _run_dynamic_job(job: Job, ctx: Context, job_dir: Path) -> dict:
    """A dynamic codec's rate point: train every GOF with simulation, code, decode from the file,
    per-frame scores on the held-out cameras; the record adds Mbps, bytes per frame, per frame."""
    from gscodec.train.dynamic_run import train_and_compress_dynamic
    from gscodec.train.spacetime import SpacetimeTrainConfig

    ds = ctx.dataset(job.scene)
    res = train_and_compress_dynamic(ds, SpacetimeTrainConfig.from_dict(job.train_config), job_dir,
                                     codec=job.codec.name, codec_config=job.codec_config, progress=ctx.progress,
                                     lpips_weights=ctx.spec.lpips_weights)
    m = res.metrics
    data = (job_dir / "scene.gsz").read_bytes()
    c, u = m["compressed"], m["uncompressed"]
    note = None if c["lpips"] is not None else "no LPIPS weights"
    return {"psnr": c["psnr"], "ssim": c["ssim"], "lpips": c["lpips"], "lpips_note": note,
            "bytes": len(data), "sections": _sections(data), "splats": m["splats"],
            "encode_seconds": m["encode_seconds"], "decode_seconds": m["decode_seconds"],
            "train_seconds": m["train_seconds"], "train_shared": False,
            "train_iterations": m["train_iterations_per_gof"] * len(m["gofs"]), "device": m.get("device", "cpu"),
            "views": len(ds.test_indices), "reference": "ground truth", "mbps": c["mbps"],
            "bytes_per_frame": c["bytes_per_frame"], "frames": m["frames"], "fps": m["fps"], "gof": m["gof"],
            "per_frame": m["per_frame"],
            "uncompressed": {"psnr": u["psnr"], "ssim": u["ssim"], "bytes": u["bytes"], "splats": m["splats"],
                             "mbps": u["mbps"]}}


# ---- the run -----------------------------------------------------------------------------
JobFn = Callable[[Job, Context], dict]


def _environment() -> dict:
    import torch

    from gscodec import __version__

    # the CPU's vector width: training floats (not coded streams) differ between AVX2 and AVX512 kernels
    return {"gscodec": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads(),
            "cpu": torch.backends.cpu.get_cpu_capability()}


def _default_device() -> str:
    """The device a job here would use: what a record says when the job itself could not say."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def execute_job(job: Job, ctx: Context, fn: JobFn, env: dict, node: dict) -> dict:
    """Run one job where it stands (this process, or a Ray worker) and return the part of its
    record the job decides: status with metrics or the error, its time, where it ran, on what."""
    t0 = time.perf_counter()
    try:
        out = {"status": "ok", **fn(job, ctx)}
    except Exception as e:  # recorded; the other jobs go on
        tb = traceback.format_exc().strip().splitlines()
        out = {"status": "error", "error": f"{type(e).__name__}: {e}", "traceback": tb[-15:]}
    out["job_seconds"] = time.perf_counter() - t0
    out["env"], out["node"] = env, node
    out.setdefault("device", _default_device())
    return out


def _base_record(j: Job, spec: Spec, engine: str) -> dict:
    return {"key": j.key, "config_hash": j.config_hash, "run": spec.name, "scene": j.scene.name,
            "source": j.scene.source, "dataset": j.scene.dataset, "codec": j.codec.label,
            "codec_name": j.codec.name, "codec_config": j.codec_config, "rate_param": j.codec.rate_param,
            "rate": j.rate, "trains_with_compression": j.trains, "train_config": j.train_config, "engine": engine}


def log_outcome(rec: dict, log: Callable[[str], None], head: str = "    ") -> None:
    if rec["status"] == "ok":
        log(f"{head}ok: {rec.get('bytes', 0):,} B, PSNR {rec.get('psnr', float('nan')):.2f} dB, "
            f"SSIM {rec.get('ssim', float('nan')):.4f}  ({rec['job_seconds']:.1f} s)")
    else:
        log(f"{head}FAILED: {rec['error']}")


def run_bench(spec: Spec, out_dir: str | Path | None = None, *, job_fn: JobFn | None = None,
              retry_failed: bool = True, progress: bool = False, log: Callable[[str], None] | None = print,
              dry_run: bool = False, engine: str = "local", address: str | None = None,
              work: str | Path | None = None, train_fn: Callable | None = None, max_retries: int = 3) -> dict:
    """Run (or resume) every job of `spec`; returns {'results': path, 'ran', 'skipped', 'failed'}.

    engine "local" runs the jobs here one after another; "ray" runs each as a Ray task (on the
    cluster at `address`, else on a Ray started in this process), retried `max_retries` times
    when its worker dies; `train_fn` is the Ray engine's shared-training step (tests). Either way
    this process alone appends the records, one per job as it finishes, so a run stopped at any
    point keeps what finished and a re-run skips it. `work` overrides the spec's work folder."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    if address and engine != "ray":
        raise InputError("--address needs --engine ray")
    out = Path(out_dir or spec.out)
    jobs = expand_jobs(spec)
    results = out / RESULTS_NAME
    done = latest_records(read_results(results))
    log = log or (lambda s: None)
    todo = []
    for j in jobs:
        prev = done.get(j.key)
        if prev and prev.get("config_hash") == j.config_hash and (
                prev.get("status") == "ok" or (prev.get("status") == "error" and not retry_failed)):
            continue
        todo.append(j)
    summary = {"results": results, "jobs": len(jobs), "ran": 0, "skipped": len(jobs) - len(todo), "failed": 0}
    if dry_run:
        for j in jobs:
            log(f"{'run ' if j in todo else 'skip'}  {j.key}  ({'train+codec' if j.trains else 'post-training'})")
        return summary
    if engine == "ray":
        from gscodec.eval import ray_engine

        ray_engine.import_ray()  # fails in one line before anything is written
    out.mkdir(parents=True, exist_ok=True)
    from gscodec.utils.io import atomic_write_text

    from gscodec.utils import provenance

    command = provenance.command_line("gscodec")
    # the spec as this run (or resume) used it, with the code and command that wrote it; each
    # record carries its own commit, since a resumed run may span several
    atomic_write_text(out / SPEC_NAME, json.dumps({**spec.to_dict(), "git_commit": provenance.start_commit(),
                                                   "command": command}, indent=2, sort_keys=True) + "\n")
    if summary["skipped"]:
        log(f"resume: {summary['skipped']} of {len(jobs)} jobs already done in {results}")
    fn = job_fn or run_job

    def finish(j: Job, outcome: dict) -> dict:
        rec = {**_base_record(j, spec, engine), **outcome}
        rec["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        rec.update(git_commit=provenance.start_commit(), command=command, load_1min=provenance.load_1min())
        _append(results, rec)
        summary["ran"] += 1
        summary["failed"] += rec["status"] != "ok"
        return rec

    if engine == "ray":
        if todo:  # nothing to run: no Ray to start
            ray_engine.run_ray(spec, out, todo, finish, job_fn=fn, train_fn=train_fn, work=work,
                               address=address, progress=progress, log=log, max_retries=max_retries)
        return summary
    ctx = Context(spec, out, progress=progress, work=work)
    env, node = _environment(), {"host": socket.gethostname()}
    for n, j in enumerate(todo, 1):
        log(f"[{n}/{len(todo)}] {j.key} ...")
        log_outcome(finish(j, execute_job(j, ctx, fn, env, node)), log)
    return summary


__all__ = ["CodecSpec", "Context", "Job", "Resources", "SceneSpec", "Spec", "evaluate_views", "execute_job",
           "expand_jobs", "latest_records", "load_spec", "read_results", "run_bench", "run_job", "spec_from_dict",
           "train_hash"]
