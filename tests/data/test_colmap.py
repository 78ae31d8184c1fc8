import warnings

import numpy as np
import pytest
import torch

from gscodec.data.colmap import load_colmap
from gscodec.errors import InputError

from .conftest import write_colmap_model


def _project(cam, xyz):
    p = cam.world_to_cam.double() @ torch.tensor([*xyz, 1.0], dtype=torch.float64)
    uv = cam.K.double() @ p[:3]
    return float(p[2]), float(uv[0] / uv[2]), float(uv[1] / uv[2])


def test_tiny_model(tiny_colmap):
    root, truth = tiny_colmap
    ds = load_colmap(root)
    assert [c.name for c in ds.cameras] == ["img_01", "img_02", "img_03"]  # sorted by name
    for cam in ds.cameras:
        assert np.allclose(cam.world_to_cam.numpy(), truth["poses"][cam.name + ".png"], atol=1e-5)
        assert (cam.fx, cam.fy, cam.cx, cam.cy) == tuple(truth["params"])
    assert ds.test_indices == [0]
    assert np.allclose(np.sort(ds.points.xyz, 0), np.sort(truth["points"], 0))
    assert np.allclose(ds.points.rgb, [1.0, 128 / 255, 0.0])
    assert ds.image(1).shape == (48, 64, 3)


def test_tiny_downscale(tiny_colmap):
    root, _ = tiny_colmap
    pre = load_colmap(root, downscale=2).cameras[0]  # images_2/ exists
    assert pre.image_path.endswith("images_2/img_01.png")
    assert (pre.width, pre.height, pre.fx, pre.fy, pre.cx, pre.cy) == (32, 24, 25.0, 27.5, 15.5, 12.5)
    ds = load_colmap(root, downscale=4)  # no images_4/: resized from images/ on load
    cam = ds.cameras[0]
    assert cam.image_path.endswith("images/img_01.png") and (cam.width, cam.height) == (16, 12)
    assert ds.image(0).shape == (12, 16, 3)


@pytest.mark.parametrize("model", ["SIMPLE_PINHOLE", "SIMPLE_RADIAL", "OPENCV_FISHEYE"])
def test_camera_models(tmp_path, model):
    write_colmap_model(tmp_path, model=model, n_images=1, scaled_dirs=())
    if model == "OPENCV_FISHEYE":
        with pytest.raises(InputError, match="undistort"):
            load_colmap(tmp_path)
        return
    if model == "SIMPLE_RADIAL":
        with pytest.raises(InputError, match="SIMPLE_RADIAL.*undistort"):
            load_colmap(tmp_path, allow_distortion=False)
        with pytest.warns(UserWarning, match="distortion"):
            cam = load_colmap(tmp_path).cameras[0]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cam = load_colmap(tmp_path).cameras[0]
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (50.0, 50.0, 32.0, 24.0)


def test_missing_image_and_model(tiny_colmap, tmp_path):
    root, _ = tiny_colmap
    (root / "images" / "img_02.png").unlink()
    with pytest.raises(InputError, match="img_02.png"):
        load_colmap(root)
    (tmp_path / "empty" / "sparse").mkdir(parents=True)
    with pytest.raises(InputError, match="no COLMAP model"):
        load_colmap(tmp_path / "empty")


def test_shared_beer(shared_data, require):
    root = shared_data / "beer_colmap"
    if not root.is_dir():
        require(f"{root} not found")
    with pytest.warns(UserWarning, match="SIMPLE_RADIAL"):
        full = load_colmap(root)
        ds = load_colmap(root, downscale=4)
    assert len(ds.cameras) == 71 and len(ds.points.xyz) == 4414
    assert [c.name for c in ds.cameras] == sorted(c.name for c in ds.cameras)
    assert len(ds.test_indices) == 9 and ds.test_indices[:2] == [0, 8]
    for a, b in zip(full.cameras, ds.cameras):
        assert (a.width, a.height) == (720, 1280) and (b.width, b.height) == (180, 320)
        assert np.allclose([b.fx, b.fy, b.cx, b.cy], np.array([a.fx, a.fy, a.cx, a.cy]) / 4)
        assert torch.equal(a.world_to_cam, b.world_to_cam)
    assert 0 <= ds.points.rgb.min() and ds.points.rgb.max() <= 1
    # a point seen by a camera projects inside that camera's image (here: the most points visible)
    import pycolmap

    rec = pycolmap.Reconstruction(str(root / "sparse" / "0"))
    by_name = {c.name + ".jpg": c for c in ds.cameras}
    checked = 0
    for pid, pt in list(rec.points3D.items())[:50]:
        for el in pt.track.elements[:2]:
            cam = by_name[rec.images[el.image_id].name]
            z, u, v = _project(cam, pt.xyz)
            assert z > 0 and -2 <= u <= cam.width + 2 and -2 <= v <= cam.height + 2
            # and near its COLMAP observation (distortion is ignored, so a few pixels of slack)
            obs = rec.images[el.image_id].points2D[el.point2D_idx].xy / 4
            assert np.hypot(u - obs[0], v - obs[1]) < 8
            checked += 1
    assert checked >= 50
    img = ds.image(5)
    assert img.shape == (320, 180, 3) and 0 <= float(img.min()) and float(img.max()) <= 1
