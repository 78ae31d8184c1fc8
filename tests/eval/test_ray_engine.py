"""The Ray engine of `gscodec bench`: the same records as the local engine, failures isolated,
a killed worker retried without duplicates, resume after an interrupted run, one shared
training per trained scene. Mostly cheap fake jobs (module-level, so they travel to workers),
two tiny real ones; one local Ray (2 CPUs) per module. Without Ray these skip, and fail under
CI=true (`make test` installs gscodec[ray])."""
import json
import os
import sys
import time
import uuid

import pytest

from gscodec.errors import InputError
from gscodec.eval.harness import expand_jobs, read_results, run_bench, spec_from_dict
from gscodec.eval.ray_engine import task_options

try:
    import ray
except ImportError:
    ray = None

SPEC = {
    "name": "t", "views": 2, "resolution": 32,
    "scene": [{"name": "a", "source": "a.ply", "dataset": "toy"}, {"name": "b", "source": "b.ply", "dataset": "toy"}],
    "codec": [{"label": "good", "name": "ptc", "rate_param": "quality", "rates": [1, 2, 3, 4]},
              {"label": "bad", "name": "ptc", "config": {"preset": "gsplat-png"}, "rate_param": "quality",
               "rates": [1, 5]}],
}
GOOD = {**SPEC, "codec": SPEC["codec"][:1]}  # 8 jobs that all succeed
KILL = "a|good|quality=2"  # the job whose worker is killed (under a 'kill' marker in the run folder)
VOLATILE = {"job_seconds", "finished_at", "env", "node", "engine", "load_1min"}  # where and when, not what


def _attempt(job, ctx) -> int:
    """Record one attempt of `job` (a file per attempt, as jobs run in several processes); the
    number of attempts so far."""
    d = ctx.out / "attempts"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{job.slug}.{uuid.uuid4().hex}").touch()
    return len(list(d.glob(f"{job.slug}.*")))


def fake_job(job, ctx):
    """Cheap and deterministic: metrics from the rate; the 'bad' codec's rate 5 raises; under a
    'kill' marker the job KILL kills its worker process on its first attempt ('kill-always': on
    every one); under 'slow' each job takes 0.3 s."""
    n = _attempt(job, ctx)
    if job.key == KILL and (ctx.out / "kill").exists() and (n == 1 or (ctx.out / "kill-always").exists()):
        os._exit(3)
    if job.codec.label == "bad" and job.rate == 5:
        raise RuntimeError("boom")
    if (ctx.out / "slow").exists():
        time.sleep(0.3)
    (ctx.out / "blas").mkdir(exist_ok=True)  # the BLAS thread cap this job's process started with
    (ctx.out / "blas" / job.slug).write_text(os.environ.get("OPENBLAS_NUM_THREADS", "unset"))
    q = job.rate
    return {"psnr": 25.0 + 2 * q, "ssim": 0.8 + 0.02 * q, "lpips": None, "bytes": 1000 * 2 ** q,
            "sections": [{"name": "means", "bytes": 400 * 2 ** q}, {"name": "sh", "bytes": 600 * 2 ** q}],
            "splats": 100, "encode_seconds": 0.1, "decode_seconds": 0.05, "train_seconds": None,
            "device": "cpu", "uncompressed": {"bytes": 10 ** 6, "splats": 100}}


def fake_train(scene, train_config, ctx):
    """A shared training: one line per call in the work folder; scene 'b' fails."""
    time.sleep(0.3)  # the jobs that wait for it must not start before this ends
    ctx.work.mkdir(parents=True, exist_ok=True)
    with open(ctx.work / "trainings.txt", "a") as f:
        f.write(scene.name + "\n")
    if scene.name == "b":
        raise RuntimeError("diverged")
    return {"train_seconds": 0.3}


def after_training(job, ctx):
    """A post-training job: its training must be finished (in the work folder) when it starts."""
    lines = (ctx.work / "trainings.txt").read_text().split()
    if job.scene.name not in lines:
        raise AssertionError("started before its training finished")
    return fake_job(job, ctx)


@pytest.fixture(scope="module")
def local_ray(require):
    if ray is None:
        require("ray is not installed (pip install gscodec[ray])")
    import logging

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the fake jobs travel by value
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def _rows(path) -> dict:
    recs = read_results(path)
    keys = [r["key"] for r in recs]
    assert len(keys) == len(set(keys)), f"duplicated records: {sorted(keys)}"
    return {r["key"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in recs}


def test_missing_ray_is_one_line_error(tmp_path, monkeypatch, capsys):
    from gscodec.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    spec = spec_from_dict(SPEC)
    with pytest.raises(InputError, match=r"pip install gscodec\[ray\]"):
        run_bench(spec, tmp_path / "run", job_fn=fake_job, engine="ray", log=None)
    assert not (tmp_path / "run").exists()  # refused before anything was written
    f = tmp_path / "s.toml"
    f.write_text('[[scene]]\nsource = "x.ply"\n[[codec]]\nname = "ptc"\n')
    assert main(["bench", str(f), "-o", str(tmp_path / "cli"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install gscodec[ray]" in err
    with pytest.raises(InputError, match="--address needs --engine ray"):
        run_bench(spec, tmp_path / "run", job_fn=fake_job, address="localhost:6379", log=None)


def test_resources_in_the_spec_and_their_defaults():
    spec = spec_from_dict({**SPEC, "resources": {"num_cpus": 2, "memory": 1e9},
                           "codec": [{**SPEC["codec"][0], "resources": {"num_cpus": 1, "num_gpus": 0.5}}]})
    job = expand_jobs(spec)[0]
    assert job.resources == {"num_cpus": 1, "memory": 1e9, "num_gpus": 0.5}
    cpu, gpu = {"CPU": 2.0, "GPU": 0.0, "memory": 8e9}, {"CPU": 8.0, "GPU": 2.0, "memory": 8e9}
    one = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    assert task_options({}, False, gpu, "j", 3) == {"num_cpus": 1.0, "num_gpus": 0.0, "max_retries": 3,
                                                    "runtime_env": {"env_vars": one}}
    assert task_options({}, True, gpu, "j", 3)["num_gpus"] == 1.0  # a training gets a GPU where there is one
    assert task_options({}, True, cpu, "j", 3)["num_gpus"] == 0.0
    assert task_options(job.resources, False, gpu, "j", 1)["memory"] == 10 ** 9
    with pytest.raises(InputError, match="asks for 4 CPUs; the largest Ray node has 2"):
        task_options({"num_cpus": 4}, False, cpu, "job x", 3)
    assert task_options({"num_gpus": 1}, True, cpu, "j", 3, check=False)["num_gpus"] == 1.0  # an autoscaler may add it
    for bad in ({"resources": {"cpus": 1}}, {"resources": {"num_cpus": -1}},
                {"codec": [{**SPEC["codec"][0], "resources": {"num_gpus": "one"}}]}):
        with pytest.raises(InputError, match="resources"):
            spec_from_dict({**SPEC, **bad})


def test_local_and_ray_engines_give_equal_rows(local_ray, tmp_path):
    spec = spec_from_dict(SPEC)
    s_local = run_bench(spec, tmp_path / "local", job_fn=fake_job, log=None)
    s_ray = run_bench(spec, tmp_path / "ray", job_fn=fake_job, engine="ray", log=None)
    assert s_local == {**s_ray, "results": s_local["results"]} and s_ray["ran"] == 12 and s_ray["failed"] == 2
    local, remote = _rows(tmp_path / "local" / "results.jsonl"), _rows(tmp_path / "ray" / "results.jsonl")
    assert local == remote  # a job that raises is recorded the same way; the others finished
    assert "RuntimeError: boom" in remote["b|bad|quality=5"]["error"]
    for r in read_results(tmp_path / "ray" / "results.jsonl"):
        assert r["engine"] == "ray" and r["node"]["host"] and r["node"]["ray_node_id"] and r["device"] == "cpu"
        assert r["env"]["threads"] == 1  # torch threads = the task's 1 CPU
    assert {f.read_text() for f in (tmp_path / "ray" / "blas").iterdir()} == {"1"}  # and numpy's BLAS threads


def test_real_jobs_give_equal_rows_through_the_cli(local_ray, tmp_path):
    """The real job (ptc on a small .ply: encode, decode from the file, orbit renders and scores)
    in Ray workers: the local engine's sizes exactly, its metrics within float tolerance."""
    from gscodec.cli import main
    from gscodec.scene import GaussianScene, save_ply

    ply = tmp_path / "tiny.ply"
    save_ply(GaussianScene.random(300, sh_degree=1, seed=1), ply)
    f = tmp_path / "s.toml"
    f.write_text(f'name = "tiny"\nviews = 2\nresolution = 32\n[[scene]]\nsource = "{ply}"\n'
                 '[[codec]]\nname = "ptc"\nrate_param = "quality"\nrates = [1, 4]\n')
    assert main(["bench", str(f), "-o", str(tmp_path / "local"), "--no-report"]) == 0
    assert main(["bench", str(f), "-o", str(tmp_path / "ray"), "--engine", "ray", "--work", str(tmp_path / "w"),
                 "--no-report"]) == 0
    local, remote = _rows(tmp_path / "local" / "results.jsonl"), _rows(tmp_path / "ray" / "results.jsonl")
    assert sorted(local) == sorted(remote) == ["tiny|ptc|quality=1", "tiny|ptc|quality=4"]
    for k, a in local.items():
        b = remote[k]
        assert a["status"] == b["status"] == "ok"
        assert (a["bytes"], a["sections"], a["splats"]) == (b["bytes"], b["sections"], b["splats"])
        assert a["psnr"] == pytest.approx(b["psnr"], abs=1e-6) and a["ssim"] == pytest.approx(b["ssim"], abs=1e-6)
    assert (tmp_path / "w" / "jobs" / "tiny-ptc-quality=4" / "scene.gsz").stat().st_size == remote[k]["bytes"]
    assert not (tmp_path / "ray" / "work").exists()  # --work: job files went there


def test_real_shared_training_is_trained_once(local_ray, tmp_path):
    """Post-training rate points on one dataset scene, for real (a 40-step training on the
    built-in scene at 32 px): one training task, its scene reused by every job, and the rows the
    local engine gives."""
    spec = spec_from_dict({"name": "tr", "train": {"iterations": 40, "sh_degree": 1, "sh_degree_interval": 20,
                                                   "strategy_options": {"refine_start": 10, "refine_stop": 20,
                                                                        "refine_every": 10}},
                           "scene": [{"name": "b", "source": "builtin:32"}],
                           "codec": [{"name": "ptc", "rate_param": "quality", "rates": [1, 5]}]})
    assert run_bench(spec, tmp_path / "ray", engine="ray", log=None)["failed"] == 0
    assert run_bench(spec, tmp_path / "local", log=None)["failed"] == 0
    assert len(list((tmp_path / "ray" / "work" / "trained").iterdir())) == 1
    local, remote = _rows(tmp_path / "local" / "results.jsonl"), _rows(tmp_path / "ray" / "results.jsonl")
    assert sorted(remote) == sorted(local) == ["b|ptc|quality=1", "b|ptc|quality=5"]
    assert len({r["train_seconds"] for r in remote.values()}) == 1  # one training, reused
    for k, a in local.items():
        b = remote[k]
        assert b["train_shared"] and b["uncompressed"]["splats"] == a["uncompressed"]["splats"]
        assert (a["bytes"], a["splats"]) == (b["bytes"], b["splats"]) and a["psnr"] == pytest.approx(b["psnr"], abs=1e-6)


def test_killed_worker_is_retried_and_recorded_once(local_ray, tmp_path):
    spec = spec_from_dict(GOOD)
    (tmp_path / "kill").touch()
    s = run_bench(spec, tmp_path, job_fn=fake_job, engine="ray", log=None)
    assert s["ran"] == 8 and s["failed"] == 0
    rows = _rows(tmp_path / "results.jsonl")
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows.values())
    assert len(list((tmp_path / "attempts").glob("a-good-quality=2.*"))) == 2  # killed once, then retried
    assert len(list((tmp_path / "attempts").glob("a-good-quality=1.*"))) == 1

    # a worker that dies on every attempt: recorded as failed once its retries are spent
    other = tmp_path / "again"
    other.mkdir()
    (other / "kill").touch()
    (other / "kill-always").touch()
    s = run_bench(spec, other, job_fn=fake_job, engine="ray", log=None, max_retries=1)
    rows = _rows(other / "results.jsonl")
    assert s["failed"] == 1 and len(rows) == 8 and rows[KILL]["status"] == "error"
    assert "Worker" in rows[KILL]["error"] or "died" in rows[KILL]["error"], rows[KILL]["error"]
    assert len(list((other / "attempts").glob("a-good-quality=2.*"))) == 2


def test_shared_training_runs_once_and_jobs_wait_for_it(local_ray, tmp_path):
    spec = spec_from_dict({**GOOD, "scene": [{"name": "a", "source": "builtin"}, {"name": "b", "source": "builtin:32"}],
                           "work": str(tmp_path / "from-spec")})
    work = tmp_path / "shared"
    s = run_bench(spec, tmp_path / "run", job_fn=after_training, train_fn=fake_train, engine="ray", log=None,
                  work=work)
    assert sorted((work / "trainings.txt").read_text().split()) == ["a", "b"]  # once per trained scene
    assert not (tmp_path / "from-spec").exists()  # --work wins over the spec's
    rows = _rows(tmp_path / "run" / "results.jsonl")
    assert s["ran"] == 8 and s["failed"] == 4
    assert all(r["status"] == "ok" for k, r in rows.items() if k.startswith("a|"))
    for k, r in rows.items():
        if k.startswith("b|"):
            assert r["status"] == "error" and "shared training failed: RuntimeError: diverged" in r["error"]


def test_interrupted_run_keeps_what_finished_and_resumes(local_ray, tmp_path):
    spec = spec_from_dict(GOOD)
    (tmp_path / "slow").touch()
    seen = []

    def ctrl_c_after_three(line):
        seen.append(line)
        if len(seen) == 3:
            raise KeyboardInterrupt  # as Ctrl-C in the driver's wait loop

    with pytest.raises(KeyboardInterrupt):
        run_bench(spec, tmp_path, job_fn=fake_job, engine="ray", log=ctrl_c_after_three)
    first = read_results(tmp_path / "results.jsonl")
    assert len(first) == 3 and all(r["status"] == "ok" for r in first)
    s = run_bench(spec, tmp_path, job_fn=fake_job, engine="ray", log=None)
    assert s["skipped"] == 3 and s["ran"] == 5
    rows = _rows(tmp_path / "results.jsonl")
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows.values())
    json.dumps(rows)
