"""Blender / NeRF-synthetic folders: transforms_{train,val,test}.json + PNG images; and D-NeRF
folders, the same layout with a "time" per frame.

Poses are OpenGL/Blender camera-to-world (x right, y up, z backwards); we flip y and z to
get OpenCV axes and invert to world-to-camera, as gsplat wants.

D-NeRF times are normalised (0..1). The distinct times (over the splits read), sorted, are the
frames 0..n-1, and fps = (n - 1) / (t_max - t_min) (1 for a single time), so that a camera's
time = frame / fps is its file time minus t_min whenever the times are evenly spaced (a warning
says when they are not, by more than a quarter of a frame)."""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gscodec.data.cameras import Camera
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.data.images import image_size
from gscodec.data.plyio import read_point_cloud
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
        return read_point_cloud(root / "points3d.ply")
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
    times: list[float | None] = []
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
            times.append(_frame_time(fr, f"{root}/transforms_{name}.json frame {k}"))
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
    fps, n_frames = _assign_frames(cameras, times, root)
    ds = Dataset(cameras=cameras, points=initial_points(root), background=bg, root=root,
                 name=root.name, fps=fps, n_frames=n_frames, _explicit_split=(split["train"], split["test"]))
    return ds.check()


def _frame_time(fr: dict, where: str) -> float | None:
    if "time" not in fr:
        return None
    try:
        t = float(fr["time"])
    except (TypeError, ValueError):
        raise InputError(f"{where}: bad time {fr['time']!r}") from None
    if not math.isfinite(t):
        raise InputError(f"{where}: time is not finite")
    return t


def _assign_frames(cameras: list[Camera], times: list[float | None], root: Path) -> tuple[float | None, int]:
    """Set .frame and .time of each camera from its file time (see the module notes); returns
    (fps, n_frames), or (None, 0) for a static folder."""
    if all(t is None for t in times):
        return None, 0
    if any(t is None for t in times):
        raise InputError(f"{root}: some frames have a 'time' and others do not")
    t = np.round(np.asarray(times, dtype=np.float64), 9)
    distinct = np.unique(t)
    n = len(distinct)
    fps = (n - 1) / float(distinct[-1] - distinct[0]) if n > 1 else 1.0
    frame = np.searchsorted(distinct, t)
    if n > 2 and np.abs(np.arange(n) / fps - (distinct - distinct[0])).max() > 0.25 / fps:
        warnings.warn(f"{root.name}: the frame times are not evenly spaced; camera times are snapped to "
                      f"{n} evenly spaced frames at {fps:.4g} fps")
    for cam, f in zip(cameras, frame):
        cam.frame, cam.time = int(f), int(f) / fps
    return fps, n
