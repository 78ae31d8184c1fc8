"""Fixtures of the viewer tests: headless Chromium (the Makefile's `chromium` step installs
it; pytest installs nothing) and a small scene."""
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
