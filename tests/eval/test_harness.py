"""The bench harness: spec parsing, resume, failure isolation, one tiny real job."""
import json

import pytest

from gscodec.errors import InputError
from gscodec.eval.harness import (
    expand_jobs,
    load_spec,
    read_results,
    run_bench,
    spec_from_dict,
)

SPEC = {
    "name": "t",
    "views": 2, "resolution": 32,
    "scene": [{"name": "a", "source": "a.ply", "dataset": "toy"}, {"name": "b", "source": "b.ply", "dataset": "toy"}],
    "codec": [{"label": "good", "name": "ptc", "rate_param": "quality", "rates": [1, 2, 3, 4]},
              {"label": "bad", "name": "ptc", "config": {"preset": "gsplat-png"}, "rate_param": "quality",
               "rates": [1, 5]}],
}


def fake_job(calls):
    def fn(job, ctx):
        calls.append(job.key)
        if job.codec.label == "bad" and job.rate == 5:
            raise RuntimeError("boom")
        q = job.rate
        return {"psnr": 25.0 + 2 * q, "ssim": 0.8 + 0.02 * q, "lpips": None, "bytes": 1000 * 2 ** q,
                "sections": [{"name": "means", "bytes": 400 * 2 ** q}, {"name": "sh", "bytes": 600 * 2 ** q}],
                "splats": 100, "encode_seconds": 0.1, "decode_seconds": 0.05, "train_seconds": None,
                "device": "cpu", "uncompressed": {"bytes": 10 ** 6, "splats": 100}}
    return fn


def test_spec_parsing_and_jobs(tmp_path):
    spec = spec_from_dict(SPEC)
    jobs = expand_jobs(spec)
    assert len(jobs) == 2 * (4 + 2)
    assert jobs[0].key == "a|good|quality=1" and jobs[0].codec_config == {"quality": 1}
    assert jobs[-1].codec_config == {"preset": "gsplat-png", "quality": 5}
    assert not jobs[0].trains and jobs[0].train_config == {}
    f = tmp_path / "s.toml"
    f.write_text('name = "x"\n[train]\niterations = 7\n[[scene]]\nsource = "builtin"\n'
                 '[[codec]]\nname = "ptc"\nrate_param = "quality"\nrates = [1, 3]\n')
    s = load_spec(f)
    j = expand_jobs(s)
    assert [x.key for x in j] == ["builtin|ptc|quality=1", "builtin|ptc|quality=3"]
    assert j[0].train_config["iterations"] == 7
    assert spec_from_dict({**SPEC, "notes": " hi "}).notes == "hi"
    y = tmp_path / "s.yaml"
    y.write_text("name: y\nscene: [builtin]\ncodec: [ptc]\n")
    try:
        import yaml  # noqa: F401
        assert [x.key for x in expand_jobs(load_spec(y))] == ["builtin|ptc|-"]
    except ImportError:
        with pytest.raises(InputError, match="PyYAML"):
            load_spec(y)
    for bad in ({**SPEC, "bogus": 1}, {**SPEC, "codec": []}, {**SPEC, "anchor": "nope"},
                {**SPEC, "codec": [{"name": "ptc", "rates": [1]}]}):
        with pytest.raises(InputError):
            spec_from_dict(bad)


def test_failure_is_recorded_and_resume_skips_finished(tmp_path):
    spec = spec_from_dict(SPEC)
    calls = []
    s = run_bench(spec, tmp_path, job_fn=fake_job(calls), log=None)
    assert s["ran"] == 12 and s["failed"] == 2 and len(calls) == 12  # the crash did not stop the others
    recs = read_results(tmp_path / "results.jsonl")
    errs = [r for r in recs if r["status"] == "error"]
    assert sorted(r["key"] for r in errs) == ["a|bad|quality=5", "b|bad|quality=5"]
    assert "RuntimeError: boom" in errs[0]["error"] and errs[0]["traceback"]
    ok = [r for r in recs if r["status"] == "ok"]
    assert ok[0]["codec_name"] == "ptc" and ok[0]["env"]["torch"]
    written = json.loads((tmp_path / "spec.json").read_text())  # the spec says which code wrote it
    assert written["git_commit"] == recs[0]["git_commit"] and written["name"] == spec.name

    calls.clear()  # resume: only the failed jobs run again
    s = run_bench(spec, tmp_path, job_fn=fake_job(calls), log=None)
    assert s["skipped"] == 10 and sorted(calls) == ["a|bad|quality=5", "b|bad|quality=5"]
    calls.clear()
    s = run_bench(spec, tmp_path, job_fn=fake_job(calls), log=None, retry_failed=False)
    assert calls == [] and s["skipped"] == 12

    # a changed configuration is not "finished"
    spec2 = spec_from_dict({**SPEC, "codec": [{**SPEC["codec"][0], "config": {"codebook_size": 64}}]})
    calls.clear()
    run_bench(spec2, tmp_path, job_fn=fake_job(calls), log=None)
    assert len(calls) == 8


def test_torn_last_line_is_ignored(tmp_path):
    spec = spec_from_dict(SPEC)
    run_bench(spec, tmp_path, job_fn=fake_job([]), log=None)
    p = tmp_path / "results.jsonl"
    p.write_text(p.read_text() + '{"key": "a|good|qual')
    assert len(read_results(p)) == 12


def test_one_tiny_real_job(tmp_path):
    """A .ply scene with the real ptc codec: encode, decode from the file, compare to reference renders."""
    from gscodec.scene import GaussianScene, save_ply

    ply = tmp_path / "tiny.ply"
    save_ply(GaussianScene.random(300, sh_degree=1, seed=1), ply)
    spec = spec_from_dict({"name": "tiny", "views": 2, "resolution": 32,
                           "scene": [{"name": "tiny", "source": str(ply)}],
                           "codec": [{"name": "ptc", "rate_param": "quality", "rates": [1]},
                                     {"label": "nope", "name": "no-such-codec"}]})
    s = run_bench(spec, tmp_path / "run", log=None)
    assert s["ran"] == 2 and s["failed"] == 1
    recs = {r["codec"]: r for r in read_results(tmp_path / "run" / "results.jsonl")}
    r = recs["ptc"]
    assert r["status"] == "ok" and r["views"] == 2 and r["reference"].startswith("reference renders")
    assert r["bytes"] == (tmp_path / "run" / "work" / "jobs" / "tiny-ptc-quality=1" / "scene.gsz").stat().st_size
    assert sum(x["bytes"] for x in r["sections"]) == r["bytes"]
    assert r["splats"] > 0 and 5 < r["psnr"] < 200 and r["encode_seconds"] >= 0 and r["decode_seconds"] >= 0
    assert r["uncompressed"]["bytes"] == ply.stat().st_size
    assert "no-such-codec" in recs["nope"]["error"]
    json.dumps(recs)  # records are plain JSON


@pytest.mark.slow
def test_codecs_that_train_run_per_rate_point(tmp_path):
    """static-gscodec and hac in a spec: each rate point trains (λ into the loss), codes, and
    is scored against ground truth; the record says so."""
    spec = spec_from_dict({"name": "trained", "train": {"iterations": 40, "sh_degree": 1, "sh_degree_interval": 20,
                                                        "strategy_options": {"refine_start": 10, "refine_stop": 20,
                                                                             "refine_every": 10}},
                           "scene": [{"name": "b", "source": "builtin:32"}],
                           "codec": [{"name": "static-gscodec", "rate_param": "lambda_rate", "rates": [0.01]},
                                     {"name": "hac", "rate_param": "lambda_rate", "rates": [0.004]}]})
    assert all(j.trains for j in expand_jobs(spec))
    s = run_bench(spec, tmp_path / "run", log=None)
    assert s["ran"] == 2 and s["failed"] == 0, read_results(tmp_path / "run" / "results.jsonl")
    recs = {r["codec"]: r for r in read_results(tmp_path / "run" / "results.jsonl")}
    for name in ("static-gscodec", "hac"):
        r = recs[name]
        assert r["status"] == "ok" and r["reference"] == "ground truth" and not r["train_shared"]
        assert r["train_iterations"] == 40 and r["bytes"] > 0 and 5 < r["psnr"] < 60
    assert recs["hac"]["uncompressed"]["bytes"] > recs["hac"]["bytes"]  # scaffold-raw vs HAC


def test_codec_train_tables_layer_and_bad_plugins_are_refused(tmp_path):
    from gscodec.eval.report import load_plugin
    from gscodec.eval.spec import merge_train

    assert merge_train({"a": 1, "s": {"x": 1, "y": 2}}, {"s": {"y": 3}}, {"a": 2}) == {"a": 2, "s": {"x": 1, "y": 3}}
    spec = spec_from_dict({"train": {"iterations": 40, "strategy_options": {"max_gaussians": 500}},
                           "scene": ["builtin"],
                           "codec": [{"name": "ptc"}, {"label": "short", "name": "ptc", "train": {"iterations": 30}},
                                     {"label": "sim", "name": "static-gscodec",
                                      "train": {"simulation": {"quantization": "ste"}}}]})
    a, b, c = expand_jobs(spec)
    assert a.train_config["iterations"] == 40 and b.train_config["iterations"] == 30
    assert b.train_config["strategy_options"]["max_gaussians"] == 500  # the nested table kept
    assert a.shared_training != b.shared_training  # another training, not a reuse of the first
    assert c.train_config["simulation"]["start"] >= 1  # where densification stops, not at step 0
    with pytest.raises(InputError, match="unknown"):
        expand_jobs(spec_from_dict({"scene": ["builtin"], "codec": [{"name": "ptc", "train": {"iteratons": 3}}]}))
    (d,) = expand_jobs(spec_from_dict({"scene": ["builtin"], "codec": [{"name": "dynamic-gscodec",
                                                                         "train": {"simulation": {}}}]}))
    from gscodec.train.spacetime import SpacetimeTrainConfig
    assert d.train_config["simulation"]["start"] == SpacetimeTrainConfig().refine_stop()  # dynamic: the same rule
    with pytest.raises(InputError, match="spec: scene 0: train must be a table"):
        spec_from_dict({"scene": [{"source": "builtin", "train": 5}], "codec": [{"name": "ptc"}]})
    with pytest.raises(InputError, match="spec: train must be a table"):
        spec_from_dict({"train": [1], "scene": ["builtin"], "codec": [{"name": "ptc"}]})
    with pytest.raises(InputError, match="no such file"):
        load_plugin(tmp_path / "missing.py")
    (tmp_path / "p.py").write_text("x = 1\n")
    with pytest.raises(InputError, match="no sections"):
        load_plugin(tmp_path / "p.py")
