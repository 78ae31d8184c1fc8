"""Fixtures for the data tests: a small built-in scene and a tiny COLMAP model made here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gscodec.data.cameras import look_at
from gscodec.data.synthetic import make_synthetic_scene

SMALL = dict(n_views=16, resolution=48, seed=3)


@pytest.fixture(scope="session")
def small_scene(tmp_path_factory) -> Path:
    return make_synthetic_scene(tmp_path_factory.mktemp("scene") / "s", **SMALL)


def write_colmap_model(root: Path, model: str = "PINHOLE", n_images: int = 3,
                       size=(64, 48), scaled_dirs=(2,)) -> dict:
    """Write root/sparse/0 (binary) + images/ (+ images_f/) with pycolmap; return the truth."""
    pycolmap = pytest.importorskip("pycolmap")
    w, h = size
    params = {"PINHOLE": [50.0, 55.0, 31.0, 25.0], "SIMPLE_PINHOLE": [50.0, 32.0, 24.0],
              "SIMPLE_RADIAL": [50.0, 32.0, 24.0, 0.01], "OPENCV_FISHEYE": [50.0, 50.0, 32.0, 24.0, 0, 0, 0, 0]}[model]
    rec = pycolmap.Reconstruction()
    cam = pycolmap.Camera(model=model, width=w, height=h, params=params, camera_id=1)
    rec.add_camera_with_trivial_rig(cam)
    poses = {}
    for i in range(n_images):
        eye = (3.0 * np.cos(i), 3.0 * np.sin(i), 1.0)
        w2c = look_at(eye).double().numpy()
        name = f"img_{n_images - i:02d}.png"  # reverse order, to test sorting by name
        img = pycolmap.Image(name=name, camera_id=1, image_id=i + 1)
        rec.add_image_with_trivial_frame(img, pycolmap.Rigid3d(w2c[:3, :4]))
        poses[name] = w2c
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (w, h), (10 * i, 100, 200)).save(root / "images" / name)
        for f in scaled_dirs:
            (root / f"images_{f}").mkdir(exist_ok=True)
            Image.new("RGB", (w // f, h // f), (10 * i, 100, 200)).save(root / f"images_{f}" / name)
    pts = np.array([[0.0, 0.0, 0.0], [0.3, -0.2, 0.1]])
    for p in pts:
        rec.add_point3D(p, pycolmap.Track(), np.array([255, 128, 0], dtype=np.uint8))
    (root / "sparse" / "0").mkdir(parents=True)
    rec.write(str(root / "sparse" / "0"))
    return {"poses": poses, "points": pts, "params": params, "size": size}


@pytest.fixture
def tiny_colmap(tmp_path) -> tuple[Path, dict]:
    root = tmp_path / "colmap"
    return root, write_colmap_model(root)
