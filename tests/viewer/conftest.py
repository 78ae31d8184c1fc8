"""Fixtures of the viewer tests: headless Chromium (the Makefile's `chromium` step installs
it; pytest installs nothing), a small scene, and a `gscodec view` process stopped by Ctrl-C."""
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.fixture(scope="session")
def chromium(require) -> str:
    """Path of a Chromium binary, else a skip (a failure under CI=true)."""
    from gscodec.viewer.browser import find_chromium

    exe = find_chromium()
    if exe is None:
        require("headless Chromium is not installed (`make test` installs it as root: "
                "apt-get install chromium chromium-driver)")
    return exe


@pytest.fixture(scope="module")
def builtin_ply(tmp_path_factory):
    """The built-in scene's initial point cloud as coloured splats, saved as a .ply."""
    from gscodec.data.synthetic import load_builtin
    from gscodec.models.gaussians import GaussianModel
    from gscodec.scene import save_ply

    tmp = tmp_path_factory.mktemp("viewer-scene")
    ds = load_builtin(resolution=64, n_views=8, cache_dir=tmp / "cache")
    path = tmp / "builtin.ply"
    save_ply(GaussianModel.from_points(ds.points, sh_degree=0).export(), path)
    return path, ds


def _view_until_ctrl_c(args: list[str], port: int, settle: float = 0.0, env: dict | None = None):
    """Run `gscodec view ARGS --port PORT` in a process, wait for its URL line, optionally let
    it run `settle` seconds, send Ctrl-C -> (lines up to the URL, the rest of the output, exit
    status). The child restores Python's SIGINT handler: a suite run in the background (`make
    test &`) hands its children SIGINT ignored, and Python then installs no KeyboardInterrupt
    handler, so without it a terminal's Ctrl-C would not reach the viewer."""
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from gscodec.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-u", "-c", code, "view", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        if any(f":{port}" in ln for ln in lines):
            time.sleep(settle)
            proc.send_signal(signal.SIGINT)
        else:  # it never served: the caller's assertion on `lines` reports it
            proc.kill()
        rest, _ = proc.communicate(timeout=90)  # generous: a loaded 2-core machine once needed more than 30 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return lines, rest, proc.returncode


@pytest.fixture
def view_until_ctrl_c():
    return _view_until_ctrl_c
