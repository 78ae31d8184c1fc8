"""COLMAP scenes (the Mip-NeRF 360 / Tanks&Temples layout): sparse/0 model + images/.

COLMAP poses are already OpenCV world-to-camera, so they go to gsplat unchanged. The
rasteriser is a pinhole model, so distorted camera models need `colmap image_undistorter`
first; the mildly distorted radial/OpenCV models are accepted with their distortion ignored
(and a warning) unless `allow_distortion=False`, since many published captures ship them."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gscodec.data.cameras import Camera
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.data.images import image_size
from gscodec.errors import InputError

PINHOLE = {"SIMPLE_PINHOLE", "PINHOLE"}
RADIAL = {"SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV"}  # pinhole core + distortion


def find_sparse(root: Path) -> Path:
    """root/sparse/0 or root/sparse, whichever holds a model (cameras.bin or .txt)."""
    for cand in (root / "sparse" / "0", root / "sparse"):
        if any((cand / f"cameras.{ext}").is_file() for ext in ("bin", "txt")):
            return cand
    raise InputError(f"{root}: no COLMAP model (expected sparse/0/cameras.bin or sparse/cameras.bin)")


def _model_name(cam) -> str:
    return cam.model.name if hasattr(cam.model, "name") else str(cam.model)


def _has_pose(image) -> bool:
    flag = getattr(image, "has_pose", True)  # a property in pycolmap 4.x; older: always posed
    return bool(flag() if callable(flag) else flag)


def _intrinsics(cam, name: str, allow_distortion: bool) -> tuple[float, float, float, float]:
    model = _model_name(cam)
    p = [float(v) for v in cam.params]
    if model in RADIAL and not allow_distortion or model not in PINHOLE | RADIAL:
        raise InputError(f"image {name}: camera model {model} is not supported; undistort the "
                         "scene first (colmap image_undistorter) to get PINHOLE cameras")
    if model in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL"):
        return p[0], p[0], p[1], p[2]
    return p[0], p[1], p[2], p[3]


def _world_to_cam(image) -> np.ndarray:
    pose = image.cam_from_world
    pose = pose() if callable(pose) else pose  # a method in pycolmap 3.12+/4.x, else a property
    m = np.eye(4)
    m[:3, :4] = np.asarray(pose.matrix(), dtype=np.float64)
    return m


def _read_model(path: Path):
    try:
        import pycolmap
    except ImportError:  # pragma: no cover - pycolmap is a dependency
        raise InputError("loading COLMAP scenes needs pycolmap (pip install pycolmap)") from None
    try:
        return pycolmap.Reconstruction(str(path))
    except Exception as e:  # noqa: BLE001 - pycolmap raises assorted errors on bad files
        raise InputError(f"cannot read the COLMAP model in {path}: {e}") from None


def load_colmap(root: str | os.PathLike, downscale: int = 1, test_every: int = 8,
                allow_distortion: bool = True) -> Dataset:
    """Dataset from a COLMAP folder: images sorted by name, every `test_every`-th one to test.
    With `downscale=f`, images come from images_f/ when it exists, else images/ resized on load;
    intrinsics are scaled to the size of the image actually used."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"COLMAP folder not found: {root}")
    if downscale < 1:
        raise InputError(f"downscale must be >= 1, got {downscale}")
    rec = _read_model(find_sparse(root))
    img_dir = root / "images"
    pre_scaled = downscale != 1 and (root / f"images_{downscale}").is_dir()
    if pre_scaled:
        img_dir = root / f"images_{downscale}"
    if not img_dir.is_dir():
        raise InputError(f"{root}: no images/ folder")
    images = sorted((im for im in rec.images.values() if _has_pose(im)),
                    key=lambda im: im.name)
    if not images:
        raise InputError(f"{root}: the COLMAP model has no registered images")
    distorted, cameras = set(), []
    for im in images:
        cm = rec.cameras[im.camera_id]
        fx, fy, cx, cy = _intrinsics(cm, im.name, allow_distortion)
        if _model_name(cm) not in PINHOLE:
            distorted.add(_model_name(cm))
        path = img_dir / im.name
        if pre_scaled or downscale == 1:
            w, h = image_size(path)  # the file's real size decides the intrinsics' scale
        else:
            if not path.is_file():
                raise InputError(f"image not found: {path}")
            w, h = int(round(cm.width / downscale)), int(round(cm.height / downscale))
        sx, sy = w / cm.width, h / cm.height
        w2c = torch.from_numpy(_world_to_cam(im)).float()
        cameras.append(Camera(w, h, fx * sx, fy * sy, cx * sx, cy * sy, w2c,
                              name=Path(im.name).stem, image_path=str(path)))
    if distorted:
        warnings.warn(f"{root}: camera model(s) {sorted(distorted)} have lens distortion, which is "
                      "ignored (pinhole rendering); undistort the scene for exact results",
                      stacklevel=2)
    pts = [p for _, p in sorted(rec.points3D.items())]  # by id: deterministic order
    xyz = np.array([p.xyz for p in pts], dtype=np.float32).reshape(-1, 3)
    rgb = np.array([p.color for p in pts], dtype=np.float32).reshape(-1, 3) / 255.0
    ds = Dataset(cameras=cameras, points=PointCloud(xyz, rgb), background=(0.0, 0.0, 0.0),
                 test_every=test_every, root=root, name=root.name)
    return ds.check()
