"""Known configurations checked against closed-form expectations."""
import math

import pytest
import torch

from gscodec.data.cameras import Camera, look_at
from gscodec.errors import InputError
from gscodec.render import rasterization, render
from gscodec.render.sh import C0, C1
from gscodec.scene.gaussian import GaussianScene

BACKENDS = ["cpu", "cpu_reference"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_gaussian_centre_and_falloff(raster, backend):
    op, s, z, f = 0.7, 0.2, 5.0, 40.0
    col, bg = torch.tensor([[0.9, 0.4, 0.1]]), torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64)
    rc, ra, meta = raster([0, 0, z], s, op, col, backend, f=f, backgrounds=bg)
    img = rc[0]
    expect = op * col[0].double() + (1 - op) * bg[0]
    torch.testing.assert_close(img[15, 15], expect, atol=1e-12, rtol=0)
    var = (f * s / z) ** 2 + 0.3                     # EWA variance in pixels, dilated by eps2d
    for k in (1, 2, 3):
        a = op * math.exp(-0.5 * k * k / var)
        torch.testing.assert_close(ra[0, 15, 15 + k, 0].item(), a, atol=1e-12, rtol=0)
        torch.testing.assert_close(ra[0, 15 - k, 15, 0].item(), a, atol=1e-12, rtol=0)
    assert int(meta["radii"][0, 0]) == math.ceil(3 * math.sqrt(var))


@pytest.mark.parametrize("backend", BACKENDS)
def test_depth_order_front_dominates(raster, backend):
    red, green = [1.0, 0, 0], [0, 1.0, 0]
    rc1, _, _ = raster([[0, 0, 4.0], [0, 0, 6.0]], [[0.2], [0.3]], [0.9, 0.9], [red, green], backend)
    rc2, _, _ = raster([[0, 0, 6.0], [0, 0, 4.0]], [[0.3], [0.2]], [0.9, 0.9], [red, green], backend)
    c1, c2 = rc1[0, 15, 15], rc2[0, 15, 15]
    torch.testing.assert_close(c1, torch.tensor([0.9, 0.1 * 0.9, 0], dtype=torch.float64))
    torch.testing.assert_close(c2, torch.tensor([0.1 * 0.9, 0.9, 0], dtype=torch.float64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_sh_degree1_view_dependence(backend):
    sh = torch.zeros(1, 4, 3, dtype=torch.float64)
    sh[0, 0] = torch.tensor([0.3, -0.2, 0.1])
    sh[0, 1:] = torch.tensor([[0.2, 0.0, 0.1], [0.0, 0.3, 0.0], [0.25, 0.1, -0.2]])
    for eye in [(3.0, 0.5, 1.0), (-2.0, 2.5, -1.0), (0.5, -3.0, 2.0)]:
        vm = look_at(eye).double()[None]
        K = torch.tensor([[[40.0, 0, 15.5], [0, 40.0, 15.5], [0, 0, 1]]], dtype=torch.float64)
        rc, _, _ = rasterization(torch.zeros(1, 3, dtype=torch.float64),
                                 torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64),
                                 torch.full((1, 3), 0.2, dtype=torch.float64),
                                 torch.tensor([0.5], dtype=torch.float64), sh, vm, K, 32, 32,
                                 sh_degree=1, backend=backend)
        d = -torch.tensor(eye, dtype=torch.float64)
        x, y, z = (d / d.norm()).tolist()
        colour = C0 * sh[0, 0] - C1 * y * sh[0, 1] + C1 * z * sh[0, 2] - C1 * x * sh[0, 3] + 0.5
        torch.testing.assert_close(rc[0, 15, 15], 0.5 * colour.clamp_min(0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_culled_and_empty_render_background(raster, backend):
    bg = torch.tensor([[0.3, 0.6, 0.9]], dtype=torch.float64)
    # behind the camera, beyond the far plane, and far off screen
    rc, ra, meta = raster([[0, 0, -3.0], [0, 0, 50.0], [40.0, 0, 2.0]], 0.2, [0.9, 0.9, 0.9],
                          torch.ones(3, 3), backend, backgrounds=bg, far_plane=20.0)
    assert (meta["radii"] == 0).all() if meta["radii"].numel() else True
    assert torch.allclose(rc, bg[0].expand_as(rc)) and (ra == 0).all()
    rc, ra, meta = raster(torch.zeros(0, 3), torch.zeros(0, 3), torch.zeros(0), torch.zeros(0, 3),
                          backend, backgrounds=bg)
    assert rc.shape == (1, 32, 32, 3) and torch.allclose(rc, bg[0].expand_as(rc))
    assert (ra == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_depth_modes(raster, backend):
    kw = dict(means=[0, 0, 5.0], scales=0.2, opacities=0.8, colors=[[0.5, 0.5, 0.5]], backend=backend)
    d, a, _ = raster(render_mode="D", **kw)
    ed, _, _ = raster(render_mode="ED", **kw)
    rgbd, _, _ = raster(render_mode="RGB+D", **kw)
    rgbed, _, _ = raster(render_mode="RGB+ED", **kw)
    assert d.shape == ed.shape == (1, 32, 32, 1) and rgbd.shape == rgbed.shape == (1, 32, 32, 4)
    torch.testing.assert_close(d[0, 15, 15, 0].item(), 0.8 * 5.0)
    covered = a[..., 0] > 0
    torch.testing.assert_close(ed[..., 0][covered], torch.full_like(ed[..., 0][covered], 5.0))
    torch.testing.assert_close(rgbd[..., 3], d[..., 0])
    torch.testing.assert_close(rgbed[..., 3], ed[..., 0])


def test_render_scene_multi_camera_and_overrides():
    scene = GaussianScene.random(300, sh_degree=1, seed=2)
    cams = [Camera.from_fov(24, 20, math.radians(60), look_at(e)) for e in [(3, 0, 1), (0, 3, 1)]]
    batch = render(scene, cams, background=(1.0, 1.0, 1.0), backend="cpu", render_mode="RGB+ED")
    assert batch.image.shape == (2, 20, 24, 3) and batch.depth.shape == (2, 20, 24, 1)
    for i, cam in enumerate(cams):
        one = render(scene, cam, background=(1.0, 1.0, 1.0), backend="cpu")
        assert one.image.shape == (20, 24, 3) and one.depth is None
        torch.testing.assert_close(one.image, batch.image[i])
    ref = render(scene, cams[0], backend="cpu_reference")
    torch.testing.assert_close(render(scene, cams[0], backend="cpu").image, ref.image, atol=1e-5, rtol=1e-4)
    # network-decoded colours / opacities bypass SH and the logits
    flat = render(scene, cams[0], backend="cpu", colors=torch.full((300, 3), 0.25),
                  opacities=torch.full((300,), 0.5))
    assert torch.allclose(flat.image, 0.25 * flat.alpha.expand_as(flat.image), atol=1e-6)


def test_errors_are_input_errors(raster):
    kw = dict(means=[0, 0, 5.0], scales=0.2, opacities=0.8, colors=[[0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match="camera_model"):
        raster(camera_model="fisheye", **kw)
    with pytest.raises(InputError, match="rasterize_mode"):
        raster(rasterize_mode="foo", **kw)
    with pytest.raises(InputError, match="render_mode"):
        raster(render_mode="N", **kw)
    with pytest.raises(InputError, match="gsplat"):
        raster(backend="gsplat", **kw)
    with pytest.raises(InputError, match="colors"):
        raster(means=[0, 0, 5.0], scales=0.2, opacities=0.8, colors=torch.ones(2, 3))


def test_antialiased_scales_opacity(raster):
    op, s, z, f = 0.7, 0.05, 5.0, 40.0
    rc, ra, _ = raster([0, 0, z], s, op, [[1.0, 1.0, 1.0]], rasterize_mode="antialiased", f=f)
    v = (f * s / z) ** 2
    torch.testing.assert_close(ra[0, 15, 15, 0].item(), op * math.sqrt(v * v / ((v + 0.3) ** 2)))
