"""Fixtures of the viewer tests: headless Chromium (installed when missing) and a small scene."""
import os
import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a Chromium binary; installs the Debian packages when missing (as root), else skips."""
    from gscodec.viewer.browser import find_chromium

    exe = find_chromium()
    if exe is None and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
            try:
                subprocess.run(cmd, env=env, check=False, timeout=600,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                break
        exe = find_chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed and could not be installed "
                    "(apt-get install chromium chromium-driver needs root and Debian packages)")
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
