import json

import numpy as np
import pytest
import torch
from PIL import Image

from gscodec.data.nerf_synthetic import load_nerf_synthetic
from gscodec.errors import InputError

from .conftest import SMALL


def test_round_trip_poses(small_scene):
    ds = load_nerf_synthetic(small_scene)
    assert len(ds.cameras) == SMALL["n_views"]
    assert [ds.cameras[i].name for i in ds.test_indices] == ["r_000", "r_008"]
    assert len(ds.train_indices) == SMALL["n_views"] - 2
    assert ds.background == (0.0, 0.0, 0.0)  # the JSON says black
    frames = {}
    for split in ("train", "test"):
        for f in json.loads((small_scene / f"transforms_{split}.json").read_text())["frames"]:
            frames[f["file_path"].rsplit("/", 1)[1]] = np.array(f["transform_matrix"])
    for cam in ds.cameras:
        c2w = frames[cam.name]
        assert np.allclose(cam.center.numpy(), c2w[:3, 3], atol=1e-4)
        # OpenCV +z (forward) is Blender's -z, and the scene centre is in front of the camera
        assert np.allclose(cam.cam_to_world[:3, 2].numpy(), -c2w[:3, 2], atol=1e-5)
        p = cam.world_to_cam @ torch.tensor([0.0, 0.0, 0.35, 1.0])
        u = cam.fx * p[0] / p[2] + cam.cx
        v = cam.fy * p[1] / p[2] + cam.cy
        assert p[2] > 0 and abs(u - cam.width / 2) < 1 and abs(v - cam.height / 2) < 1


def test_images_and_points(small_scene):
    ds = load_nerf_synthetic(small_scene, downscale=2)
    r = SMALL["resolution"] // 2
    cam = ds.cameras[0]
    assert (cam.width, cam.height) == (r, r)
    img = ds.image(0)
    assert img.shape == (r, r, 3) and img.dtype == torch.float32
    assert 0 <= float(img.min()) and float(img.max()) <= 1
    assert ds.points.xyz.shape[0] > 1000  # points3d.ply, not the random cube


def test_rgba_composited_on_white(tmp_path):
    root = tmp_path / "blender"
    (root / "train").mkdir(parents=True)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, :] = (255, 0, 0, 255)  # opaque red on top, transparent below
    Image.fromarray(rgba, "RGBA").save(root / "train" / "r_0.png")
    frame = {"file_path": "./train/r_0", "transform_matrix": np.eye(4).tolist()}
    for split in ("train", "test"):
        (root / f"transforms_{split}.json").write_text(
            json.dumps({"camera_angle_x": 0.69, "frames": [frame]}))
    ds = load_nerf_synthetic(root)
    assert ds.background == (1.0, 1.0, 1.0)
    img = ds.image(0)
    assert torch.allclose(img[0, 0], torch.tensor([1.0, 0, 0])) and torch.allclose(img[7, 7], torch.ones(3))
    assert ds.points.xyz.shape == (100_000, 3) and np.abs(ds.points.xyz).max() <= 1.3
    assert np.array_equal(ds.points.xyz, load_nerf_synthetic(root).points.xyz)  # seeded
    assert load_nerf_synthetic(root, white_background=False).image(0)[7, 7].sum() == 0
    assert ds.test_indices == [1] and ds.train_indices == [0]


def test_bad_json(tmp_path):
    (tmp_path / "transforms_train.json").write_text("{not json")
    with pytest.raises(InputError, match="transforms_train.json"):
        load_nerf_synthetic(tmp_path)


def test_missing_image(tmp_path):
    frame = {"file_path": "./train/nope", "transform_matrix": np.eye(4).tolist()}
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": [frame]}))
    with pytest.raises(InputError, match="image not found"):
        load_nerf_synthetic(tmp_path)
