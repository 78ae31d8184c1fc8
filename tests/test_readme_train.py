"""Every `gscodec train` line of the README runs, from the command line, at a tiny size (a
32x32 built-in scene or a 16x16 built-in dynamic one, 30 iterations) and ends in a .gsz that decodes; every codec that trains
has such a line. A real COLMAP capture runs the static-gscodec line at a down-scale."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gscodec.codecs import decode_bytes
from gscodec.codecs.registry import available_codecs, codec_class

ROOT = Path(__file__).resolve().parents[1]
TINY_ITERATIONS = "30"


def readme_train_lines() -> list[str]:
    lines = []
    for line in (ROOT / "README.md").read_text().splitlines():
        line = line.strip()
        if line.startswith("gscodec train "):
            lines.append(re.split(r"\s+#", line, maxsplit=1)[0].strip())
    return lines


def training_codecs() -> set[str]:
    """ptc (plain 3DGS, then compressed) and every codec gscodec ships that trains its own way
    (not the ones tests register)."""
    return {"ptc"} | {n for n in available_codecs() if codec_class(n).__module__.startswith("gscodec.")
                      and getattr(codec_class(n), "trains_with_compression", False)}


def codec_of(argv: list[str]) -> str:
    return argv[argv.index("--codec") + 1] if "--codec" in argv else "ptc"


def tiny(argv: list[str], dataset: str, out: Path, extra=()) -> list[str]:
    """The README's command with its placeholders filled and its length made tiny."""
    small = {"DATASET": dataset, "builtin-dynamic": "builtin-dynamic:16", "RUN/": str(out)}
    argv = [small.get(a, a) for a in argv[2:]]
    if "--downscale" in argv:  # the README's factor is for a real capture; the tiny dataset sets its own
        i = argv.index("--downscale")
        del argv[i : i + 2]
    if "--iterations" in argv:
        argv[argv.index("--iterations") + 1] = TINY_ITERATIONS
    else:
        argv += ["--iterations", TINY_ITERATIONS]
    return [sys.executable, "-m", "gscodec.cli", "train", *argv, *extra]


def run_and_decode(cmd: list[str], out: Path, env: dict) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, f"{shlex.join(cmd)}\n{r.stderr[-2000:]}"
    decoded = decode_bytes((out / "scene.gsz").read_bytes())
    assert len(decoded) > 0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return {**os.environ, "GSCODEC_CACHE": str(tmp_path_factory.mktemp("cache")), "OMP_NUM_THREADS": "2"}


def test_readme_covers_every_codec_that_trains():
    covered = {codec_of(shlex.split(line)) for line in readme_train_lines()}
    assert training_codecs() <= covered, f"README has no `gscodec train` line for {training_codecs() - covered}"


@pytest.mark.parametrize("line", readme_train_lines())
def test_readme_train_line_runs(line, tmp_path, env):
    out = tmp_path / "run"
    run_and_decode(tiny(shlex.split(line), "builtin:32", out), out, env)


def test_static_gscodec_on_a_colmap_capture(shared_data, tmp_path, env):
    line = next(x for x in readme_train_lines() if codec_of(shlex.split(x)) == "static-gscodec")
    out = tmp_path / "run"
    run_and_decode(tiny(shlex.split(line), str(shared_data / "beer_colmap"), out, ["--downscale", "16"]), out, env)


def test_impossible_schedule_is_refused_before_training(tmp_path, env):
    (tmp_path / "c.json").write_text('{"strategy_options": {"refine_stop": 40}}')
    cmd = [sys.executable, "-m", "gscodec.cli", "train", "builtin:16", "--codec", "static-gscodec",
           "--iterations", "40", "--config", str(tmp_path / "c.json"), "-o", str(tmp_path / "run")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "would never run" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()
