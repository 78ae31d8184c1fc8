"""Plain xyz/rgb point-cloud PLY files (the initial 'SfM' points of a scene folder).

Separate from gscodec.scene.ply, which stores Gaussians: this one is the ordinary
`x y z red green blue` layout every point-cloud tool reads and writes."""
from __future__ import annotations

import io
import os

import numpy as np

from gscodec.errors import InputError
from gscodec.utils.io import atomic_write_bytes

_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
          "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
          "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def write_points_ply(path: str | os.PathLike, xyz: np.ndarray, rgb: np.ndarray) -> None:
    """Binary little-endian PLY: float x,y,z + uchar red,green,blue (rgb given in [0,1])."""
    xyz = np.asarray(xyz, dtype="<f4").reshape(-1, 3)
    cols = (np.clip(np.asarray(rgb, dtype=np.float64), 0, 1) * 255 + 0.5).astype("u1").reshape(-1, 3)
    rec = np.empty(len(xyz), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                     ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    for i, k in enumerate("xyz"):
        rec[k] = xyz[:, i]
    for i, k in enumerate(("red", "green", "blue")):
        rec[k] = cols[:, i]
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"element vertex {len(xyz)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    atomic_write_bytes(path, header.encode("ascii") + rec.tobytes())


def read_points_ply(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(xyz float32 [N,3], rgb float32 [N,3] in [0,1]) from an ascii or binary vertex PLY.
    Points without colour get grey (0.5)."""
    try:
        data = open(path, "rb").read()
    except OSError as e:
        raise InputError(f"cannot read point cloud {path}: {e}") from None
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise InputError(f"{path}: not a PLY file")
    lines = data[:end].decode("ascii", "replace").splitlines()
    fmt, count, props, elem = None, 0, [], None
    for ln in lines:
        t = ln.split()
        if not t:
            continue
        if t[0] == "format":
            fmt = t[1]
        elif t[0] == "element":
            elem = t[1]
            if elem == "vertex":
                count = int(t[2])
            elif count == 0:
                raise InputError(f"{path}: elements before 'vertex' are not supported")
        elif t[0] == "property" and elem == "vertex":
            if t[1] == "list" or t[1] not in _TYPES:
                raise InputError(f"{path}: unsupported vertex property {' '.join(t[1:])}")
            props.append((t[2], _TYPES[t[1]]))
    names = [n for n, _ in props]
    if not all(k in names for k in "xyz"):
        raise InputError(f"{path}: vertex element has no x/y/z")
    body = data[end + len("end_header\n"):]
    try:
        if fmt == "ascii":
            arr = np.loadtxt(io.BytesIO(body), dtype=np.float64, ndmin=2, max_rows=count)
            rec = {n: arr[:, i] for i, (n, _) in enumerate(props)}
        elif fmt in ("binary_little_endian", "binary_big_endian"):
            e = "<" if fmt == "binary_little_endian" else ">"
            dt = np.dtype([(n, e + t) for n, t in props])
            rec = np.frombuffer(body, dtype=dt, count=count)
        else:
            raise InputError(f"{path}: unknown PLY format {fmt}")
    except ValueError as ex:
        raise InputError(f"{path}: truncated or malformed PLY ({ex})") from None
    xyz = np.stack([np.asarray(rec[k], dtype=np.float64) for k in "xyz"], 1).astype(np.float32)
    if all(k in names for k in ("red", "green", "blue")):
        rgb = np.stack([np.asarray(rec[k], dtype=np.float64) for k in ("red", "green", "blue")], 1)
        kind = dict(props)["red"]
        rgb = rgb / 255.0 if kind[0] in "iu" else rgb
    else:
        rgb = np.full_like(xyz, 0.5, dtype=np.float64)
    return xyz, np.clip(rgb, 0, 1).astype(np.float32)
