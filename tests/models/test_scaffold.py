"""Scaffold-GS model: anchors from points, neural Gaussians, masks, gradients, plain-data round trip."""
import math

import numpy as np
import pytest
import torch

from gscodec.data.cameras import Camera, look_at, orbit_cameras
from gscodec.data.dataset import PointCloud
from gscodec.errors import InputError
from gscodec.models.scaffold import (
    ScaffoldModel,
    default_voxel_size,
    render_anchor_scene,
)
from gscodec.models.scaffold_export import anchors_to_gaussians, rotmat_to_quat
from gscodec.render.project import quat_to_rotmat


def _points(n=600, seed=0):
    g = np.random.default_rng(seed)
    xyz = g.uniform(-1, 1, (n, 3)).astype(np.float32)
    return PointCloud(xyz=xyz, rgb=g.uniform(0, 1, (n, 3)).astype(np.float32))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_the_shared_one_thread_fixture_applies_here():
    assert torch.get_num_threads() == 1  # the suite runs with 2 (tests/conftest.py)


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = ScaffoldModel.from_points(_points(), voxel_size=0.25, feat_dim=8, n_offsets=4)
    with torch.no_grad():  # a non-trivial state: features and offsets away from their zero init
        m.features.normal_(0, 1)
        m.offsets.normal_(0, 0.5)
    return m


@pytest.fixture
def cam():
    return orbit_cameras(1, 4.0, width=32, height=32, fov_deg=50)[0]


def test_from_points_voxel_centres_and_shapes():
    pts = _points()
    m = ScaffoldModel.from_points(pts, voxel_size=0.25, feat_dim=8, n_offsets=4)
    n = len(m)
    assert 0 < n <= len(pts.xyz)
    grid = m.anchors / 0.25
    assert torch.allclose(grid, grid.round(), atol=1e-4)  # voxel centres
    assert len(torch.unique(grid.round(), dim=0)) == n   # one anchor per occupied voxel
    assert m.features.shape == (n, 8) and m.scaling.shape == (n, 6)
    assert m.offsets.shape == (n, 4, 3) and m.mask_logits.shape == (n, 4)
    assert not m.anchors.requires_grad and "anchors" not in dict(m.named_parameters())
    auto = ScaffoldModel.from_points(pts)
    assert auto.voxel_size == pytest.approx(default_voxel_size(pts.xyz))
    with pytest.raises(InputError):
        ScaffoldModel.from_points(np.zeros((0, 3), np.float32))


def test_neural_gaussians_shapes_and_opacity_drop(model, cam):
    ng = model.neural_gaussians(cam)
    v, k = len(ng.anchor_ids), model.n_offsets
    assert ng.opacity_all.shape == (v, k)
    assert len(ng) == int((ng.opacity_all > 0).sum())
    assert ng.means.shape == (len(ng), 3) and ng.quats.shape == (len(ng), 4) and ng.colors.shape == (len(ng), 3)
    assert (ng.opacities > 0).all() and (ng.scales > 0).all()
    assert torch.allclose(ng.quats.norm(dim=-1), torch.ones(len(ng)), atol=1e-5)
    with torch.no_grad():  # force slot 0 positive and slot 1 negative for every anchor
        last = model.mlp_opacity[2]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([1.0, -1.0, 0.5, -0.5]))
    ng = model.neural_gaussians(cam)
    assert len(ng) == 2 * len(ng.anchor_ids)
    slots = ng.slots % k
    assert set(slots.tolist()) == {0, 2}


def test_mask_drops_gaussians_and_gets_gradient(model, cam):
    base = len(model.neural_gaussians(cam))
    with torch.no_grad():
        model.mask_logits[:, 0] = -10.0
    ng = model.neural_gaussians(cam)
    assert len(ng) < base and not (ng.slots % model.n_offsets == 0).any()
    out = model.render(cam)
    out.image.sum().backward()
    assert model.mask_logits.grad is not None and model.mask_logits.grad[:, 1:].abs().sum() > 0
    assert model.mask_loss().item() == pytest.approx(torch.sigmoid(model.mask_logits).mean().item())


def test_render_is_differentiable(model, cam):
    out = model.render(cam, background=(0.1, 0.2, 0.3), backend="cpu")
    assert out.image.shape == (32, 32, 3) and out.alpha.shape == (32, 32, 1)
    (out.image * torch.rand_like(out.image)).sum().backward()
    for name, p in [("features", model.features), ("offsets", model.offsets), ("scaling", model.scaling),
                    *model.mlp_opacity.named_parameters(), *model.mlp_cov.named_parameters(),
                    *model.mlp_color.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_overrides_change_the_render(model, cam):
    a = model.render(cam).image
    b = model.render(cam, features=model.features + 0.5).image
    assert not torch.allclose(a, b)
    ids = torch.nonzero(model.visible_anchors(cam), as_tuple=True)[0]
    c = model.render(cam, features=model.features[ids], anchor_ids=ids).image
    assert torch.equal(a, c)


def test_frustum_culling_is_conservative(model, cam):
    vis = model.visible_anchors(cam)
    culled = model.render(cam).image
    everything = model.render(cam, anchor_ids=torch.arange(len(model))).image
    assert torch.allclose(culled, everything, atol=1e-5)
    behind = Camera.from_fov(32, 32, math.radians(30), look_at((0, 0, 30.0), (0, 0, 60.0)))
    assert not model.visible_anchors(behind).any() and vis.any()
    assert torch.equal(model.render(behind, background=(0.5, 0.5, 0.5)).image, torch.full((32, 32, 3), 0.5))


def test_anchor_scene_round_trip_renders_identically(model, cam):
    with torch.no_grad():
        model.mask_logits[::3, 1] = -10.0
    scene = model.to_anchor_scene().check()
    assert scene.offset_mask.dtype == torch.bool and not scene.offset_mask[::3, 1].any()
    assert scene.decoder_config["feat_dim"] == 8 and scene.decoder_config["n_offsets"] == 4
    back = ScaffoldModel.from_anchor_scene(scene)
    with torch.no_grad():
        assert torch.equal(model.render(cam).image, back.render(cam).image)
        assert torch.equal(render_anchor_scene(scene, cam).image, model.render(cam).image)
    cams = orbit_cameras(2, 4.0, width=32, height=32)
    assert render_anchor_scene(scene, cams).image.shape == (2, 32, 32, 3)


def test_from_anchor_scene_refuses_bad_data(model):
    scene = model.to_anchor_scene()
    bad = scene.detach()
    bad.decoder_config = {**scene.decoder_config, "format": "other"}
    with pytest.raises(InputError, match="not a Scaffold-GS decoder"):
        ScaffoldModel.from_anchor_scene(bad)
    bad = scene.detach()
    bad.decoder_state = {k: v for k, v in scene.decoder_state.items() if "mlp_cov" not in k}
    with pytest.raises(InputError, match="decoder_state"):
        ScaffoldModel.from_anchor_scene(bad)
    bad = scene.detach()
    bad.decoder_state = dict(scene.decoder_state)
    bad.decoder_state["mlp_color.0.weight"] = torch.zeros(3, 3)
    with pytest.raises(InputError, match="shape"):
        ScaffoldModel.from_anchor_scene(bad)


def test_rotmat_to_quat_round_trip():
    q = torch.nn.functional.normalize(torch.randn(200, 4, generator=torch.Generator().manual_seed(1)), dim=-1)
    q = torch.where(q[:, :1] < 0, -q, q)
    assert torch.allclose(rotmat_to_quat(quat_to_rotmat(q)), q, atol=1e-5)


def test_export_from_the_one_view_it_is_fitted_on_is_exact(model, cam):
    """With a single viewpoint there is nothing to average: the export must render as the anchors."""
    from gscodec.render import render

    scene = model.to_anchor_scene()
    g = anchors_to_gaussians(scene, sh_degree=1, cameras=[cam], min_opacity=0.0)
    assert len(g) == len(model.neural_gaussians(cam, anchor_ids=torch.arange(len(model))))
    with torch.no_grad():
        a = model.render(cam).image
    b = render(g, cam).image
    assert torch.allclose(a, b, atol=2e-4)
    g0 = anchors_to_gaussians(scene, sh_degree=0, n_dirs=16)
    assert g0.sh_degree == 0 and len(g0) > 0
    with pytest.raises(InputError):
        anchors_to_gaussians(scene, sh_degree=4)


def test_distance_input_round_trip(cam):
    m = ScaffoldModel.from_points(_points(), voxel_size=0.25, feat_dim=8, n_offsets=4, use_dist=True)
    assert m.mlp_opacity[0].in_features == 8 + 3 + 1
    scene = m.to_anchor_scene()
    assert scene.decoder_config["use_dist"] is True
    with torch.no_grad():
        assert torch.equal(ScaffoldModel.from_anchor_scene(scene).render(cam).image, m.render(cam).image)
    with pytest.raises(InputError, match="opacity_rule"):
        anchors_to_gaussians(scene, opacity_rule="median")
