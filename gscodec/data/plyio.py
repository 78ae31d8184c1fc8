"""Plain xyz/rgb point-cloud PLY files (the initial 'SfM' points of a scene folder), on plyfile.

Separate from gscodec.scene.ply, which stores Gaussians: this one is the ordinary
`x y z red green blue` layout every point-cloud tool reads and writes (ascii or binary), with an
optional float `time` per point (seconds) for dynamic scenes; files without it read as before."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import plyfile

from gscodec.errors import InputError
from gscodec.utils.io import atomic_write_bytes


def write_points_ply(path: str | os.PathLike, xyz: np.ndarray, rgb: np.ndarray,
                     time: np.ndarray | None = None) -> None:
    """Binary little-endian PLY: float x,y,z + uchar red,green,blue (rgb given in [0,1]), and
    for a dynamic scene a float `time` (seconds) per point."""
    xyz = np.asarray(xyz, dtype="<f4").reshape(-1, 3)
    cols = (np.clip(np.asarray(rgb, dtype=np.float64), 0, 1) * 255 + 0.5).astype("u1").reshape(-1, 3)
    if len(cols) != len(xyz) or (time is not None and np.size(time) != len(xyz)):
        raise InputError("write_points_ply: xyz, rgb and time differ in length")
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    rec = np.empty(len(xyz), dtype=fields + ([("time", "<f4")] if time is not None else []))
    if time is not None:
        rec["time"] = np.asarray(time, dtype="<f4").reshape(-1)
    for i, k in enumerate("xyz"):
        rec[k] = xyz[:, i]
    for i, k in enumerate(("red", "green", "blue")):
        rec[k] = cols[:, i]
    buf = io.BytesIO()
    plyfile.PlyData([plyfile.PlyElement.describe(rec, "vertex")], byte_order="<").write(buf)
    atomic_write_bytes(path, buf.getvalue())


def read_points_ply(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(xyz float32 [N,3], rgb float32 [N,3] in [0,1]) from an ascii or binary vertex PLY.
    Points without colour get grey (0.5). A header declaring more vertices than the file
    can hold is refused before plyfile allocates them."""
    xyz, rgb, _ = _read(path)
    return xyz, rgb


def read_point_cloud(path: str | os.PathLike):
    """The PLY as a PointCloud, with its per-point `time` (seconds) when the file has one."""
    from gscodec.data.dataset import PointCloud

    return PointCloud(*_read(path))


def _read(path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from gscodec.scene.ply import _read_header  # the Gaussian reader's header checks

    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read point cloud {path}: no such file")
    fmt, count, header_len = _read_header(path)
    least = 2 if fmt == "ascii" else 1  # bytes any vertex needs at the very least (a value and a separator)
    if count * least > path.stat().st_size - header_len:
        raise InputError(f"{path}: header declares {count} vertices, more than the file can hold")
    try:
        ply = plyfile.PlyData.read(str(path))
    except plyfile.PlyParseError as e:
        raise InputError(f"{path}: malformed PLY ({e})") from None
    except (ValueError, EOFError, OSError, IndexError, TypeError) as e:
        raise InputError(f"{path}: truncated or malformed PLY ({e})") from None
    if "vertex" not in ply:
        raise InputError(f"{path}: PLY has no 'vertex' element")
    v = ply["vertex"].data
    names = v.dtype.names or ()
    if not all(k in names for k in "xyz"):
        raise InputError(f"{path}: vertex element has no x/y/z")
    xyz = np.stack([np.asarray(v[k], dtype=np.float64) for k in "xyz"], 1).astype(np.float32)
    if all(k in names for k in ("red", "green", "blue")):
        rgb = np.stack([np.asarray(v[k], dtype=np.float64) for k in ("red", "green", "blue")], 1)
        rgb = rgb / 255.0 if v.dtype["red"].kind in "iu" else rgb
    else:
        rgb = np.full_like(xyz, 0.5, dtype=np.float64)
    time = None
    if "time" in names:
        time = np.asarray(v["time"], dtype=np.float64).astype(np.float32)
        if not np.isfinite(time).all():
            raise InputError(f"{path}: the vertex time has NaN/Inf values")
    return xyz, np.clip(rgb, 0, 1).astype(np.float32), time
