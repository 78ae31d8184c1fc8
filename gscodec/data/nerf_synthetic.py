"""Blender / NeRF-synthetic folders: transforms_{train,val,test}.json + PNG images.

Poses are OpenGL/Blender camera-to-world (x right, y up, z backwards); we flip y and z to
get OpenCV axes and invert to world-to-camera, as gsplat wants."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from gscodec.data.cameras import Camera
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.data.images import image_size
from gscodec.data.plyio import read_points_ply
from gscodec.errors import InputError

_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])


def _read_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list):
        raise InputError(f"{path}: expected an object with a 'frames' list")
    return meta


def _image_path(root: Path, file_path: str) -> Path:
    p = root / file_path
    if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
        return p
    return p.with_name(p.name + ".png")


def initial_points(root: Path, n: int = 100_000, bound: float = 1.3, seed: int = 0) -> PointCloud:
    """points3d.ply or points.npy ([N,6] xyz+rgb, or [N,3]) from the folder, else the 3DGS
    default: n seeded random points in [-bound,bound]^3 with random colours."""
    if (root / "points3d.ply").is_file():
        xyz, rgb = read_points_ply(root / "points3d.ply")
        return PointCloud(xyz, rgb)
    if (root / "points.npy").is_file():
        try:
            arr = np.load(root / "points.npy")
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read {root / 'points.npy'}: {e}") from None
        if arr.ndim != 2 or arr.shape[1] not in (3, 6):
            raise InputError(f"{root / 'points.npy'}: expected [N,3] or [N,6], got {arr.shape}")
        rgb = arr[:, 3:6] if arr.shape[1] == 6 else np.full((len(arr), 3), 0.5)
        rgb = rgb / 255.0 if rgb.max(initial=0) > 1.0 else rgb
        return PointCloud(arr[:, :3].astype(np.float32), np.clip(rgb, 0, 1).astype(np.float32))
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-bound, bound, (n, 3)).astype(np.float32)
    return PointCloud(xyz, rng.random((n, 3)).astype(np.float32))


def load_nerf_synthetic(root: str | os.PathLike, downscale: int = 1,
                        white_background: bool | None = None, include_val: bool = False) -> Dataset:
    """Dataset from a NeRF-synthetic folder. The split comes from the files: test = the test
    frames (the standard evaluation); val frames are read only with `include_val`, into train.
    `white_background=None` uses the JSON's "white_background" key when it has one, else white
    (the NeRF-synthetic convention)."""
    root = Path(root)
    if not (root / "transforms_train.json").is_file():
        raise InputError(f"{root}: no transforms_train.json (not a NeRF-synthetic folder)")
    if downscale < 1:
        raise InputError(f"downscale must be >= 1, got {downscale}")
    cameras: list[Camera] = []
    split: dict[str, list[int]] = {"train": [], "test": []}
    jsons = {}
    for name in ("train", "test") + (("val",) if include_val else ()):
        if (root / f"transforms_{name}.json").is_file():
            jsons[name] = _read_json(root / f"transforms_{name}.json")
    if white_background is None:
        white_background = bool(jsons["train"].get("white_background", True))
    size_cache: dict[Path, tuple[int, int]] = {}
    for name, meta in jsons.items():
        if "camera_angle_x" not in meta:
            raise InputError(f"{root}/transforms_{name}.json: no camera_angle_x")
        fov_x = float(meta["camera_angle_x"])
        for k, fr in enumerate(meta["frames"]):
            try:
                c2w = np.asarray(fr["transform_matrix"], dtype=np.float64)
                path = _image_path(root, fr["file_path"])
            except (KeyError, TypeError, ValueError) as e:
                raise InputError(f"{root}/transforms_{name}.json frame {k}: bad entry ({e})") from None
            if c2w.shape != (4, 4) or not np.isfinite(c2w).all():
                raise InputError(f"{root}/transforms_{name}.json frame {k}: bad transform_matrix")
            if "w" in fr and "h" in fr:
                w, h = int(fr["w"]), int(fr["h"])
            elif "w" in meta and "h" in meta:
                w, h = int(meta["w"]), int(meta["h"])
            else:  # read the size from the image header (cached per file)
                if path not in size_cache:
                    size_cache[path] = image_size(path)
                w, h = size_cache[path]
            w2c = torch.from_numpy(np.linalg.inv(c2w @ _FLIP)).float()
            fx = 0.5 * w / math.tan(0.5 * fov_x)
            fy = fx
            if "camera_angle_y" in meta:
                fy = 0.5 * h / math.tan(0.5 * float(meta["camera_angle_y"]))
            cam = Camera(w, h, fx, fy, w / 2.0, h / 2.0, w2c, name=path.stem,
                         image_path=str(path))
            if downscale != 1:
                cam = cam.scaled(downscale)
            split["test" if name == "test" else "train"].append(len(cameras))
            cameras.append(cam)
    bg = (1.0, 1.0, 1.0) if white_background else (0.0, 0.0, 0.0)
    ds = Dataset(cameras=cameras, points=initial_points(root), background=bg, root=root,
                 name=root.name, _explicit_split=(split["train"], split["test"]))
    return ds.check()
