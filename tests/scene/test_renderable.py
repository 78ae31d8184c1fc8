"""The renderable-scene seam: a GaussianScene is itself; an AnchorScene gives its neural
Gaussians for the camera, rendering as the anchor model does; nothing in view is background."""
import numpy as np
import pytest
import torch

from gscodec.data.cameras import look_at, orbit_cameras
from gscodec.data.dataset import PointCloud
from gscodec.errors import InputError
from gscodec.models.scaffold import ScaffoldModel, render_anchor_scene
from gscodec.scene import GaussianScene
from gscodec.scene.renderable import render_view, renderable


@pytest.fixture(scope="module")
def anchor_scene():
    torch.manual_seed(0)
    g = np.random.default_rng(0)
    pts = PointCloud(xyz=g.uniform(-1, 1, (500, 3)).astype(np.float32), rgb=g.uniform(0, 1, (500, 3)).astype(np.float32))
    m = ScaffoldModel.from_points(pts, voxel_size=0.25, feat_dim=8, n_offsets=4)
    with torch.no_grad():
        m.features.normal_(0, 1)
        m.offsets.normal_(0, 0.3)
    return m.to_anchor_scene()


def test_gaussian_scene_is_itself():
    s = GaussianScene.random(30, sh_degree=1)
    r = renderable(s)
    assert not r.view_dependent and r.splats(None) is s
    with pytest.raises(InputError, match="cannot render"):
        renderable(object())


def test_anchor_scene_renders_like_the_anchor_model(anchor_scene):
    r = renderable(anchor_scene)
    assert r.view_dependent
    cams = orbit_cameras(2, 4.0, width=40, height=32)
    for cam in cams:
        a = render_anchor_scene(anchor_scene, cam, backend="cpu").image
        b = render_view(anchor_scene, cam, backend="cpu").image
        assert float((a - b).abs().max()) < 1e-4
    assert len(r.splats(None)) > 0  # a default view of the whole scene


def test_nothing_in_view_is_background(anchor_scene):
    from gscodec.data.cameras import Camera

    away = Camera(world_to_cam=look_at((0, 0, 50.0), target=(0, 0, 100.0)), fx=30, fy=30, cx=20, cy=16,
                  width=40, height=32)
    img = render_view(anchor_scene, away, background=(0.2, 0.3, 0.4), backend="cpu").image
    assert torch.allclose(img, torch.tensor([0.2, 0.3, 0.4]).expand_as(img))
