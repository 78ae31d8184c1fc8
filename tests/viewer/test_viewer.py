"""gscodec view: splat conversion, cameras, panel, errors, and the page in headless Chromium."""
import argparse
import math
import socket
import time

import numpy as np
import pytest
import torch

from gscodec.errors import InputError
from gscodec.scene import GaussianScene
from gscodec.viewer.cameras import (
    camera_from_view,
    camera_pose,
    matching_camera,
    rotmat_to_wxyz,
    vertical_fov,
)
from gscodec.viewer.panel import source_markdown
from gscodec.viewer.sources import SceneSource, StaticSource
from gscodec.viewer.splats import SH_C0, scene_to_splats


def test_splats_are_activated():
    s = GaussianScene.random(50, sh_degree=1, seed=3)
    a = scene_to_splats(s)
    assert a.centers.shape == (50, 3) and a.covariances.shape == (50, 3, 3)
    assert a.rgbs.shape == (50, 3) and a.opacities.shape == (50, 1)
    q = torch.nn.functional.normalize(s.quats, dim=-1).double()
    w, x, y, z = q[0]
    r = torch.tensor([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                      [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                      [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    cov = r @ torch.diag(torch.exp(2 * s.log_scales[0].double())) @ r.T
    np.testing.assert_allclose(a.covariances[0], cov.numpy(), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(a.rgbs, (0.5 + SH_C0 * s.sh_dc).clamp(0, 1).numpy(), atol=1e-6)
    np.testing.assert_allclose(a.opacities[:, 0], torch.sigmoid(s.opacity_logits).numpy(), atol=1e-6)


def test_camera_round_trip_and_match(builtin_ply):
    _, ds = builtin_ply
    cam = ds.cameras[3]
    r, pos = camera_pose(cam)
    wxyz = rotmat_to_wxyz(r)
    assert matching_camera(ds.cameras, wxyz, pos, scale=1.0) == 3
    assert matching_camera(ds.cameras, wxyz, pos + 0.5, scale=1.0) is None
    back = camera_from_view(wxyz, pos, vertical_fov(cam), cam.width, cam.height)
    np.testing.assert_allclose(back.world_to_cam.numpy(), cam.world_to_cam.numpy(), atol=1e-4)
    assert math.isclose(back.fy, cam.fy, rel_tol=1e-5)


def test_static_source_and_panel(builtin_ply, tmp_path):
    from gscodec.codecs import encode_scene

    ply, _ = builtin_ply
    src = StaticSource.load(ply, progress=False)
    assert isinstance(src, SceneSource) and not src.view_dependent
    info = src.info()
    assert info["splats"] == 4000 and info["sh_degree"] == 0 and info["bytes"] == ply.stat().st_size
    gsz = tmp_path / "s.gsz"
    gsz.write_bytes(encode_scene(src.splats(), "ptc"))
    dec = StaticSource.load(gsz, progress=False)
    assert dec.info()["format"] == "gsz" and dec.info()["sections"]
    md = source_markdown(dec.info())
    assert "section" in md and "splats" in md and "SH degree" in md


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        StaticSource.load(tmp_path / "nope.ply", progress=False)
    bad = tmp_path / "bad.gsz"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputError):
        StaticSource.load(bad, progress=False)


def test_busy_port_names_an_alternative():
    from gscodec.viewer.app import choose_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(InputError, match=r"in use.*--port \d+"):
            choose_port("127.0.0.1", busy)


def test_psnr_at_dataset_camera(builtin_ply):
    from gscodec.viewer.app import Viewer

    ply, ds = builtin_ply
    v = Viewer([StaticSource.load(ply, progress=False)], ds, port=0, verbose=False)
    i = ds.test_indices[0]
    value = v.psnr(0, i)
    assert math.isfinite(value) and value > 5


def test_cli_registers_view():
    from gscodec.viewer.cli import register

    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="verb"))
    a = p.parse_args(["view", "a.ply", "b.gsz", "--port", "9000", "--cameras", "builtin"])
    assert (a.file, a.file2, a.port, a.cameras) == ("a.ply", "b.gsz", 9000, "builtin")


@pytest.mark.slow
def test_viewer_page_shows_splats(builtin_ply, chromium, tmp_path):
    """Start the viewer on the built-in scene, load the page in headless Chromium, wait for the
    splats, screenshot it (tmp_path/viewer.png), check the scene's colours are there, stop."""
    pytest.importorskip("viser")
    from gscodec.viewer.app import Viewer, free_port, port_free
    from gscodec.viewer.browser import colour_fraction, distinct_hues, screenshot

    ply, _ = builtin_ply
    out = tmp_path / "viewer.png"
    port = free_port()
    viewer = Viewer([StaticSource.load(ply, progress=False)], port=port, verbose=False)
    w, h = 1024, 768

    def scene_area(rgb):  # the middle of the page: not the panel (top right), not the axes gizmo
        return rgb[h // 8: h * 7 // 8, w // 8: w * 5 // 8]

    try:
        viewer.start()
        rgb = screenshot(viewer.url, out, width=w, height=h, timeout=75,
                         ready=lambda x: colour_fraction(scene_area(x)) > 0.02)
    finally:
        viewer.stop()
    print(f"screenshot: {out}")
    assert out.is_file() and rgb.shape == (h, w, 3)
    assert colour_fraction(scene_area(rgb)) > 0.02, "no coloured splats in the screenshot"
    assert distinct_hues(scene_area(rgb)) >= 3, "the splats' colours are missing"
    assert rgb.std() > 10, "blank screenshot"
    time.sleep(0.5)
    assert port_free("127.0.0.1", viewer.port), "the server still holds its port"


@pytest.mark.slow
def test_ctrl_c_stops_cleanly(builtin_ply, view_until_ctrl_c):
    pytest.importorskip("viser")
    from gscodec.viewer.app import free_port

    ply, _ = builtin_ply
    port = free_port()
    lines, rest, code = view_until_ctrl_c([str(ply)], port)
    assert any(f":{port}" in ln for ln in lines), "".join(lines)
    assert code == 0, "".join(lines) + rest
    assert "Traceback" not in rest


def test_view_dependent_source_is_asked_per_camera(builtin_ply):
    """Anchor scenes decode their Gaussians per view: the viewer hands them the camera."""
    pytest.importorskip("viser")
    from types import SimpleNamespace

    from gscodec.data.cameras import Camera
    from gscodec.viewer.app import Viewer

    ply, ds = builtin_ply
    base = StaticSource.load(ply, progress=False)

    class PerView:
        name, view_dependent = "anchors", True

        def __init__(self):
            self.cameras = []

        def info(self):
            return base.info()

        def splats(self, camera=None):
            self.cameras.append(camera)
            return base.splats()

    src = PerView()
    with Viewer([src], ds, port=0, verbose=False) as v:
        r, pos = camera_pose(ds.cameras[ds.test_indices[0]])
        view = SimpleNamespace(wxyz=rotmat_to_wxyz(r), position=pos, fov=0.8,
                               image_width=64, image_height=48)
        v._on_camera(view)
        assert isinstance(src.cameras[-1], Camera) and src.cameras[-1].width == 64
        assert "dB" in v._psnr_md.content


def test_ctrl_c_while_starting_exits_cleanly(builtin_ply, monkeypatch, capsys):
    """SIGINT can land before serve_forever's handler is in place (it did in CI: during the
    'Ctrl-C to stop' print); the command must still stop the server and exit 0."""
    pytest.importorskip("viser")
    import argparse

    from gscodec.viewer import app
    from gscodec.viewer.cli import register

    stopped = []

    def interrupted_start(self):
        self.server = object()  # as if viser had started
        raise KeyboardInterrupt

    monkeypatch.setattr(app.Viewer, "start", interrupted_start)
    monkeypatch.setattr(app.Viewer, "stop", lambda self: stopped.append(True))
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="verb"))
    a = p.parse_args(["view", str(builtin_ply[0])])
    try:
        code = a.fn(a)
    except KeyboardInterrupt:  # caught here, or it would stop the whole test session
        pytest.fail("Ctrl-C during start escaped `gscodec view` as a traceback")
    assert code == 0
    assert stopped and "stopping the viewer" in capsys.readouterr().out
