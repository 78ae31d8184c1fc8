"""`gscodec bench SPEC --engine ray`: every job of a spec as a Ray task, so a sweep that
outgrows one machine runs on a cluster (or on every core of a laptop) with one flag.

Ray is an optional extra (`pip install gscodec[ray]`) and is imported only here, only when
asked for. The driver (this process) stays the only writer of the results file: it submits
the tasks, and appends each job's record (the local engine's format, built by the harness)
as the task finishes, so a Ctrl-C or a lost driver keeps every finished record and a re-run
skips them. A task whose worker dies (killed, out of memory, a lost node) is retried by Ray
(`max_retries`), and only its final result is recorded, so nothing is duplicated. A job that
raises is recorded with its error by the task itself (application errors are not retried).

Post-training jobs on one trained scene share ONE training: it runs as its own task, and its
jobs are submitted only when it has finished; they find the trained scene in the work folder
(`Context.trained`'s on-disk cache), which must therefore be a path every node sees. Each task
sets torch's, numba's and numpy's BLAS threads to the CPUs it was given, so parallel tasks do not
oversubscribe the cores; each record says the node it ran on and the device.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Callable

from gscodec.errors import InputError
from gscodec.eval.harness import (
    Context,
    Job,
    Resources,
    SceneSpec,
    Spec,
    _default_device,
    _environment,
    execute_job,
    log_outcome,
)

INSTALL_HINT = "pip install gscodec[ray]"


def import_ray():
    """The ray module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


# ---- inside a task -----------------------------------------------------------------------
_CONTEXTS: dict = {}


def task_threads(num_cpus: float | None) -> int:
    """The threads a task with `num_cpus` CPUs runs (torch, numba and BLAS alike): at least one."""
    return max(1, int(num_cpus or 1))


def _enter(cwd: str, num_cpus: float) -> None:
    """A task starts in the driver's folder (relative scene paths mean the same) when this node
    has it, with as many torch / numba threads as the CPUs it was given (at least one)."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    n = task_threads(num_cpus)
    import torch

    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except Exception:  # noqa: BLE001 - numba's thread count is an optimisation, never an error
        pass


def _context(spec: Spec, out: str, work: str | None, progress: bool) -> Context:
    """One Context per worker process and run: a worker that runs several jobs of a run reuses
    its loaded datasets, trained scenes and codec warm-ups, as the local engine does."""
    key = (json.dumps(spec.to_dict(), sort_keys=True, default=str), out, work, progress)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[key] = Context(spec, Path(out), progress=progress, work=work)
    return _CONTEXTS[key]


def _node() -> dict:
    import ray

    return {"host": socket.gethostname(), "ray_node_id": ray.get_runtime_context().get_node_id()}


def job_task(job: Job, spec: Spec, out: str, work: str | None, cwd: str, fn: Callable, num_cpus: float,
             progress: bool) -> dict:
    """One job in a Ray worker: the outcome part of its record (see harness.execute_job)."""
    _enter(cwd, num_cpus)
    return execute_job(job, _context(spec, out, work, progress), fn, _environment(), _node())


def train_shared(scene: SceneSpec, train_config: dict, ctx: Context) -> dict:
    """The shared training step: train (or find) the scene in the work folder; its info."""
    return dict(ctx.trained(scene, train_config)[1])


def train_task(scene: SceneSpec, train_config: dict, spec: Spec, out: str, work: str | None, cwd: str,
               train_fn: Callable, num_cpus: float, progress: bool) -> dict:
    """The training a group of post-training jobs shares, as its own task; never raises, so its
    error can be written into each of the jobs that waited for it."""
    _enter(cwd, num_cpus)
    t0 = time.perf_counter()
    try:
        res = {"status": "ok", "info": train_fn(scene, train_config, _context(spec, out, work, progress))}
    except Exception as e:  # noqa: BLE001 - reported in the dependent jobs' records
        tb = traceback.format_exc().strip().splitlines()
        res = {"status": "error", "error": f"shared training failed: {type(e).__name__}: {e}", "traceback": tb[-15:]}
    res.update(job_seconds=time.perf_counter() - t0, env=_environment(), node=_node())
    res.setdefault("device", (res.get("info") or {}).get("device") or _default_device())
    return res


# ---- the driver --------------------------------------------------------------------------
def _start(ray, address: str | None) -> bool:
    """Connect to `address`, or start a quiet Ray in this process; False when Ray was already
    initialised by the caller (then it is also left running)."""
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:  # a private instance: its start-up notes (token authentication is on, ...) are noise here
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
    except ConnectionError as e:
        hint = "; a cluster with token authentication also needs RAY_AUTH_MODE=token" if address != "auto" else ""
        raise InputError(f"--address {address}: cannot connect to a Ray cluster ({str(e).splitlines()[0]}){hint}"
                         ) from None
    return True


def _largest_node(ray) -> dict:
    """The most CPUs / GPUs / memory one live node offers (a task must fit on one node)."""
    best = {"CPU": 0.0, "GPU": 0.0, "memory": 0.0}
    for n in ray.nodes():
        if n.get("Alive"):
            for k in best:
                best[k] = max(best[k], float(n.get("Resources", {}).get(k, 0.0)))
    return best


BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def task_options(resources: dict, training: bool, largest: dict, what: str, max_retries: int,
                 check: bool = True) -> dict:
    """Ray options of a task: the spec's resources, else defaults that fit its kind (1 CPU; a GPU
    for a training when the cluster has one); with `check` (a Ray started here, which no node can
    join), refused in one line when no node could run it, rather than waiting forever. A cluster
    at an address is not checked: its autoscaler may add the nodes a task asks for."""
    r = Resources.from_dict(resources)
    opts = {"num_cpus": 1.0 if r.num_cpus is None else float(r.num_cpus),
            "num_gpus": float(r.num_gpus) if r.num_gpus is not None else (1.0 if training and largest["GPU"] >= 1
                                                                        else 0.0),
            "max_retries": int(max_retries)}
    # numpy's BLAS sizes its thread pool when the worker imports it, before any task runs, so the
    # cap travels as the worker's environment (Ray keeps a worker pool per environment)
    threads = str(task_threads(opts["num_cpus"]))
    opts["runtime_env"] = {"env_vars": {v: threads for v in BLAS_THREAD_VARS}}
    if r.memory:
        opts["memory"] = int(r.memory)
    for opt, res, unit in (("num_cpus", "CPU", "CPUs"), ("num_gpus", "GPU", "GPUs"), ("memory", "memory", "bytes")):
        if check and opts.get(opt, 0) > largest[res]:
            raise InputError(f"{what} asks for {opts[opt]:g} {unit}; the largest Ray node has {largest[res]:g}")
    return opts


def _lost(e: Exception, opts: dict) -> dict:
    """The outcome of a task Ray could not finish (its worker died more than max_retries times,
    or it was cancelled): the error, with the device it asked for; the node is not known."""
    lines = str(e).strip().splitlines() or [""]
    return {"status": "error", "error": f"{type(e).__name__}: {lines[0]}"[:400], "traceback": lines[-15:],
            "job_seconds": None, "env": None, "node": {"host": None, "ray_node_id": None},
            "device": "cuda" if opts.get("num_gpus") else "cpu"}


def run_ray(spec: Spec, out: Path, todo: list[Job], finish: Callable[[Job, dict], dict], *, job_fn: Callable,
            train_fn: Callable | None = None, work: str | Path | None = None, address: str | None = None,
            progress: bool = False, log: Callable[[str], None] = print, max_retries: int = 3) -> None:
    """Run `todo` as Ray tasks; `finish(job, outcome)` appends each record (harness.run_bench)."""
    from gscodec.utils.progress import progress_iter

    ray = import_ray()
    out_s = str(out.resolve())
    work_s = str(Path(work or spec.work).resolve()) if (work or spec.work) else None
    cwd = os.getcwd()
    started = _start(ray, address)
    pending: dict = {}  # ObjectRef -> (job, opts) | (training key, opts)
    bar = progress_iter(None, "bench", total=len(todo))
    say = bar.write if (log is print and not bar.disable) else log
    try:
        largest = _largest_node(ray)
        remote_job, remote_train = ray.remote(job_task), ray.remote(train_task)
        spec_ref = ray.put(spec)
        waiting: dict[str, list[Job]] = {}  # shared training key -> its jobs
        check = not address
        jobs_opts = {id(j): task_options(j.resources, j.trains, largest, f"job {j.key}", max_retries, check)
                     for j in todo}

        def submit(j: Job) -> None:
            o = jobs_opts[id(j)]
            ref = remote_job.options(**o).remote(j, spec_ref, out_s, work_s, cwd, job_fn, o["num_cpus"], progress)
            pending[ref] = (j, o)

        for j in todo:
            k = j.shared_training
            if k is None:
                submit(j)
            elif k in waiting:
                waiting[k].append(j)
            else:
                waiting[k] = [j]
                o = task_options(j.resources, True, largest, f"the training of {k}", max_retries, check)
                ref = remote_train.options(**o).remote(j.scene, j.train_config, spec_ref, out_s, work_s, cwd,
                                                       train_fn or train_shared, o["num_cpus"], progress)
                pending[ref] = (k, o)
        n = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)  # short: Ctrl-C is seen at once
            for ref in ready:
                what, o = pending.pop(ref)
                try:
                    res = ray.get(ref)
                except ray.exceptions.RayError as e:
                    res = _lost(e, o)
                if isinstance(what, str):  # a shared training: now its jobs, or its error in each
                    if res["status"] == "ok":
                        for j in waiting.pop(what):
                            submit(j)
                        continue
                    recs = [finish(j, {k: v for k, v in res.items() if k != "info"}) for j in waiting.pop(what)]
                else:
                    recs = [finish(what, res)]
                for rec in recs:
                    n += 1
                    bar.update(1)
                    log_outcome(rec, say, f"[{n}/{len(todo)}] {rec['key']}: ")
    except KeyboardInterrupt:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or gone
                pass
        log(f"interrupted: the jobs that finished are kept in {out / 'results.jsonl'}; run again to resume")
        raise
    finally:
        bar.close()
        if started:
            ray.shutdown()


__all__ = ["import_ray", "job_task", "run_ray", "task_options", "train_shared", "train_task"]
