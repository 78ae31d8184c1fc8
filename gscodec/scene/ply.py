"""INRIA-layout .ply I/O (the layout of the original 3DGS code, gsplat, SuperSplat).

Properties: x y z [nx ny nz] f_dc_0..2 f_rest_0..(3K-1) opacity scale_0..2 rot_0..3.
f_rest is stored channel-major (all R coefficients, then G, then B), which is why
sh_rest [N,K,3] is a transpose of the file's [N,3,K]. Normals are ignored on read and
written as zeros. Unknown per-vertex properties are kept in `scene.extras` and reported.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import plyfile
import torch

from gscodec.errors import InputError
from gscodec.scene.gaussian import (
    GaussianScene,
    sh_coeffs_for_degree,
    sh_degree_for_coeffs,
)
from gscodec.utils.io import atomic_open

REQUIRED = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
            "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
IGNORED = {"nx", "ny", "nz"}
_REST = re.compile(r"^f_rest_(\d+)$")


class PlyWarning(UserWarning):
    """Something in a PLY was not modelled (e.g. unknown properties kept as extras)."""


def _read_header(path: Path) -> tuple[str, int, int]:
    """Return (format, vertex_count, header_bytes) after basic sanity checks."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.startswith(b"ply"):
        raise InputError(f"{path}: not a PLY file (it does not start with 'ply')")
    end = head.find(b"end_header")
    if end < 0:
        raise InputError(f"{path}: PLY header has no 'end_header' in its first 64 KiB")
    nl = head.find(b"\n", end)
    header = head[:end].decode("ascii", errors="replace")
    fmt = re.search(r"^format\s+(\S+)", header, re.M)
    count = re.search(r"^element\s+vertex\s+(\d+)", header, re.M)
    if not fmt:
        raise InputError(f"{path}: PLY header has no 'format' line")
    if not count:
        raise InputError(f"{path}: PLY header has no 'element vertex' line")
    return fmt.group(1), int(count.group(1)), nl + 1


_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
          "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
          "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def _vertex_layout(path: Path, fmt: str, header_len: int) -> tuple[np.dtype, int] | None:
    """(record dtype, byte offset) of the vertex block of a binary PLY whose elements before it
    and itself have fixed-size records; None when plyfile must parse it (list properties,
    unknown types), so such files are still read, only more slowly."""
    with open(path, "rb") as f:
        header = f.read(header_len).decode("ascii", errors="replace")
    order = "<" if fmt == "binary_little_endian" else ">"
    elements: list[tuple[str, int, list]] = []
    for line in header.splitlines():
        t = line.split()
        if t[:1] == ["element"] and len(t) == 3 and t[2].isdigit():
            elements.append((t[1], int(t[2]), []))
        elif t[:1] == ["property"] and elements:
            if len(t) != 3 or t[1] not in _TYPES:
                return None  # a list or malformed property: plyfile reports what it cannot read
            elements[-1][2].append((t[2], order + _TYPES[t[1]]))
    offset = header_len
    for name, count, props in elements:
        try:
            dtype = np.dtype(props)
        except (TypeError, ValueError):
            return None  # e.g. a property name given twice: plyfile's message
        if name == "vertex":
            return dtype, offset
        offset += count * dtype.itemsize
    return None


def _check_size(path: Path, count: int, layout: tuple[np.dtype, int]) -> None:
    """The vertices the header declares must fit in the bytes after it (refused before
    anything is allocated); more data than that is reported."""
    rec = layout[0].itemsize
    body = path.stat().st_size - layout[1]
    if count * rec > body:
        raise InputError(f"{path}: header declares {count} vertices ({count * rec} bytes) but the file holds "
                         f"{body} bytes after its header")
    if count * rec < body:
        warnings.warn(f"{path}: {body - count * rec} bytes after the {count} declared vertices are ignored",
                      PlyWarning, stacklevel=3)


def _read_vertices(path: Path, fmt: str, count: int, header_len: int) -> np.ndarray:
    """The vertex block as one structured array: read in one call at disk speed (plyfile
    without mmap parses it record by record, ~1 MB/s), or by plyfile for layouts it must parse."""
    layout = _vertex_layout(path, fmt, header_len)
    if layout is not None:
        _check_size(path, count, layout)
        if not layout[0].names:
            raise InputError(f"{path}: the vertex element has no properties")
        with open(path, "rb") as f:
            f.seek(layout[1])
            v = np.fromfile(f, dtype=layout[0], count=count)
        if len(v) != count:
            raise InputError(f"{path}: header says {count} vertices but the file holds {len(v)}")
        return v
    try:
        ply = plyfile.PlyData.read(str(path), mmap=False)
    except plyfile.PlyParseError as e:
        raise InputError(f"{path}: malformed PLY ({e})") from None
    except (ValueError, EOFError, OSError) as e:
        raise InputError(f"{path}: cannot read PLY data ({e})") from None
    if "vertex" not in ply:
        raise InputError(f"{path}: PLY has no 'vertex' element")
    v = ply["vertex"].data
    if len(v) != count:
        raise InputError(f"{path}: header says {count} vertices but the file holds {len(v)}")
    return v


def load_ply(path: str | os.PathLike, *, check: bool = True) -> GaussianScene:
    """Read an INRIA-layout 3DGS .ply. Raises InputError with the reason on a malformed file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt, count, header_len = _read_header(path)
    if fmt == "ascii":
        raise InputError(f"{path}: ASCII PLY is not supported; 3DGS scenes are binary (binary_little_endian)")
    if fmt not in ("binary_little_endian", "binary_big_endian"):
        raise InputError(f"{path}: unknown PLY format {fmt!r}")
    v = _read_vertices(path, fmt, count, header_len)
    names = list(v.dtype.names)
    missing = [p for p in REQUIRED if p not in names]
    if missing:
        raise InputError(f"{path}: not a 3DGS PLY, missing properties: {', '.join(missing)}")

    rest_ids = sorted(int(m.group(1)) for n in names if (m := _REST.match(n)))
    if rest_ids != list(range(len(rest_ids))):
        raise InputError(f"{path}: f_rest_* properties are not numbered 0..{len(rest_ids) - 1}")
    if len(rest_ids) % 3:
        raise InputError(f"{path}: {len(rest_ids)} f_rest properties is not a multiple of 3")
    k = len(rest_ids) // 3
    try:
        sh_degree_for_coeffs(k + 1)
    except InputError:
        raise InputError(f"{path}: {len(rest_ids)} f_rest properties do not match any SH degree 0-3 "
                         f"(expected 0, 9, 24 or 45)") from None

    # the usual file is all little-endian float32: one [N, F] view, columns gathered in one pass each
    flat = (v.view("<f4").reshape(count, len(names))
            if all(v.dtype[n] == np.dtype("<f4") for n in names) and v.dtype.itemsize == 4 * len(names) else None)

    def col(*props: str) -> torch.Tensor:
        if flat is not None:
            idx = [names.index(p) for p in props]
            consecutive = idx == list(range(idx[0], idx[0] + len(idx)))
            return torch.from_numpy(np.ascontiguousarray(flat[:, idx[0]:idx[0] + len(idx)] if consecutive
                                                         else flat[:, idx]))
        arr = np.stack([np.asarray(v[p], dtype=np.float32) for p in props], axis=-1)
        return torch.from_numpy(np.ascontiguousarray(arr))

    rest = col(*[f"f_rest_{i}" for i in range(3 * k)]) if k else torch.zeros(count, 0)
    known = set(REQUIRED) | IGNORED | {f"f_rest_{i}" for i in range(3 * k)}
    extras = {n: np.asarray(v[n]).copy() for n in names if n not in known}
    if extras:
        warnings.warn(f"{path}: unknown properties kept as extras: {', '.join(extras)}", PlyWarning,
                      stacklevel=2)
    scene = GaussianScene(
        means=col("x", "y", "z"),
        quats=col("rot_0", "rot_1", "rot_2", "rot_3"),
        log_scales=col("scale_0", "scale_1", "scale_2"),
        opacity_logits=col("opacity")[:, 0].contiguous(),
        sh_dc=col("f_dc_0", "f_dc_1", "f_dc_2"),
        sh_rest=rest.reshape(count, 3, k).transpose(1, 2).contiguous(),
        extras=extras,
    )
    _clamp_infinite_opacity(scene, path)
    if check:
        scene.check()  # NaN / Inf refused before the repairs below look at the values
        _clip_outliers(scene, path)
        _fix_degenerate_quats(scene, path)
    return scene


OUTLIER_SPANS = 10.0  # a value this many robust spans beyond the 0.1-99.9% range is an outlier
QUAT_MIN_NORM = 1e-8


def _clip_outliers(scene: GaussianScene, path: Path) -> None:
    """One value far outside its attribute's robust range (a position, log-scale or colour of
    1e30) stretches the quantization range of every other splat; clip such values to
    [p0.1 - 10 s, p99.9 + 10 s] (s = p99.9 - p0.1, per column) and say how many."""
    if len(scene) < 2:
        return
    hits = []
    for name in ("means", "log_scales", "sh_dc", "sh_rest", "opacity_logits"):
        t = getattr(scene, name)
        flat = t.reshape(len(scene), -1)
        if not flat.numel():
            continue
        sample = flat[:: max(1, len(scene) // 100_000)].numpy()  # the range from <= ~200k evenly spaced rows
        # not interpolated: with few rows, the 99.9% point must not lean on the largest (the outlier)
        lo = np.quantile(sample, 0.001, axis=0, method="higher").astype(np.float64)
        hi = np.quantile(sample, 0.999, axis=0, method="lower").astype(np.float64)
        span = np.maximum(hi - lo, 1e-6)
        lo = torch.from_numpy(lo - OUTLIER_SPANS * span).to(t.dtype)
        hi = torch.from_numpy(hi + OUTLIER_SPANS * span).to(t.dtype)
        bad = (flat < lo) | (flat > hi)
        if bad.any():
            flat.copy_(torch.maximum(torch.minimum(flat, hi), lo))
            hits.append(f"{name} {int(bad.any(1).sum())}")
    if hits:
        warnings.warn(f"{path}: values far outside their attribute's range (outliers that would wreck the "
                      f"quantization of the rest) clipped in {', '.join(hits)} splat(s)", PlyWarning, stacklevel=3)


def _fix_degenerate_quats(scene: GaussianScene, path: Path) -> None:
    """A rotation of norm ~0 has no direction (normalising it gives noise): the identity, noted."""
    bad = scene.quats.norm(dim=1) < QUAT_MIN_NORM
    if bad.any():
        scene.quats[bad] = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=scene.quats.dtype)
        warnings.warn(f"{path}: {int(bad.sum())} rotation(s) of norm < {QUAT_MIN_NORM:g} set to the identity",
                      PlyWarning, stacklevel=3)


OPACITY_LOGIT_LIMIT = 20.0  # sigmoid(20) == 1.0 in float32: renders identically to +inf


def _clamp_infinite_opacity(scene: GaussianScene, path: Path) -> None:
    """Exporters that store opacity 1.0 (or 0.0) write a logit of +-inf; keep such files
    usable by clamping to +-20, which renders identically, and say so."""
    inf = torch.isinf(scene.opacity_logits)
    if inf.any():
        scene.opacity_logits.clamp_(-OPACITY_LOGIT_LIMIT, OPACITY_LOGIT_LIMIT)
        warnings.warn(f"{path}: {int(inf.sum())} opacity logit(s) were +-inf (opacity exactly 1 or 0); "
                      f"clamped to +-{OPACITY_LOGIT_LIMIT:g}", PlyWarning, stacklevel=3)


def scene_to_structured(scene: GaussianScene, *, normals: bool = True) -> np.ndarray:
    """The scene as a numpy structured array with the INRIA property order."""
    scene = scene.detach().to("cpu", torch.float32)
    n, k = len(scene), scene.sh_rest.shape[1]
    cols: list[tuple[str, np.ndarray]] = []
    cols += [(c, scene.means[:, i].numpy()) for i, c in enumerate("xyz")]
    if normals:
        cols += [(c, np.zeros(n, np.float32)) for c in ("nx", "ny", "nz")]
    cols += [(f"f_dc_{i}", scene.sh_dc[:, i].numpy()) for i in range(3)]
    rest = scene.sh_rest.transpose(1, 2).reshape(n, 3 * k).numpy()
    cols += [(f"f_rest_{i}", rest[:, i]) for i in range(3 * k)]
    cols += [("opacity", scene.opacity_logits.numpy())]
    cols += [(f"scale_{i}", scene.log_scales[:, i].numpy()) for i in range(3)]
    cols += [(f"rot_{i}", scene.quats[:, i].numpy()) for i in range(4)]
    cols += [(name, np.asarray(arr)) for name, arr in scene.extras.items()]
    dtype = [(name, "<f4" if name not in scene.extras else np.asarray(arr).dtype.newbyteorder("<").str)
             for name, arr in cols]
    out = np.empty(n, dtype=dtype)
    for name, arr in cols:
        out[name] = arr
    return out


def save_ply(scene: GaussianScene, path: str | os.PathLike, *, normals: bool = True) -> Path:
    """Write a binary little-endian INRIA-layout PLY atomically (temporary name, then rename)."""
    scene.check()
    path = Path(path)
    data = scene_to_structured(scene, normals=normals)
    element = plyfile.PlyElement.describe(data, "vertex")
    with atomic_open(path, "wb") as f:
        plyfile.PlyData([element], text=False, byte_order="<").write(f)
    return path


__all__ = ["load_ply", "save_ply", "scene_to_structured", "PlyWarning", "sh_coeffs_for_degree"]
