"""How the quantized symbols of the post-training codec become sections, and back.

Both layouts take and return the same things: quantized positions qpos [N,3], a dict of
integer symbol arrays [N,C] per attribute, and an optional float codebook [K,D] for SH rest.
encode also returns the stream order (row i of the stream is input row order[i]), in which
the codec adds its own sections (refine.py).
"""
from __future__ import annotations

import numpy as np

from gscodec.coding.container import Section
from gscodec.coding.neighbour_context import METHODS as NEIGHBOUR_METHODS
from gscodec.coding.neighbour_context import (NeighbourConfig, NeighbourGraph, decode_neighbour, encode_neighbour,
                                              neighbour_graph, neighbour_predictions)
from gscodec.coding.stream import need, need_section
from gscodec.coding.symbols import dequantize_uniform, quantize_uniform
from gscodec.errors import CorruptStreamError

CODEBOOK = "sh_codebook"
NEIGHBOUR_CODED = ("scales", "quats", "opacity", "sh_dc")  # attributes that may be coded from neighbours


def get(name: str):
    return {"entropy": EntropyLayout, "image": ImageLayout}[name]


def _symbol_shapes(header: dict, cfg, n: int, degree: int) -> dict[str, tuple[int, int]]:
    """(channels, bits) of every symbol array the stream must hold, derived from the header."""
    shapes = {"scales": (3, cfg.bits["scales"]), "quats": (3, cfg.bits["quats"]), "quat_index": (1, 2),
              "opacity": (1, cfg.bits["opacity"]), "sh_dc": (3, cfg.bits["sh_dc"])}
    k = (degree + 1) ** 2 - 1
    if k and cfg.sh_rest_mode == "scalar":
        shapes["sh_rest"] = (3 * k, cfg.bits["sh_rest"])
    elif k and cfg.sh_rest_mode == "kmeans" and n > 0:
        size = int(header.get("codebook_size", 0))
        if not 1 <= size <= 1 << 20:
            raise CorruptStreamError(f"codebook size {size} is out of range")
        shapes["sh_labels"] = (1, max(1, int(np.ceil(np.log2(size)))) if size > 1 else 1)
    return shapes


def _quantize_codebook(codebook: np.ndarray, bits: int, header: dict) -> np.ndarray:
    q, lo, hi = quantize_uniform(codebook, bits)
    header["ranges"][CODEBOOK] = [lo.tolist(), hi.tolist()]
    return q


def _dequantize_codebook(q: np.ndarray, bits: int, header: dict) -> np.ndarray:
    try:
        lo, hi = (np.asarray(v, np.float32) for v in header["ranges"][CODEBOOK])
    except (KeyError, TypeError, ValueError):
        raise CorruptStreamError("header lacks the codebook's ranges") from None
    return dequantize_uniform(q, bits, lo, hi)


def _check_symbols(name: str, q: np.ndarray, n: int, c: int, bits: int) -> np.ndarray:
    q = np.asarray(q)
    if q.shape != (n, c):
        raise CorruptStreamError(f"section {name!r} decoded to shape {list(q.shape)}, expected {[n, c]}")
    if q.size and (q.min() < 0 or q.max() >= (1 << bits)):
        raise CorruptStreamError(f"section {name!r} holds symbols outside 0..{(1 << bits) - 1}")
    return q.astype(np.int32)


class EntropyLayout:
    """Morton order from the position coder; each attribute entropy coded with the smallest
    of the available models (choice recorded as the section's method), the neighbour-context
    models (coding/neighbour_context.py) among them for NEIGHBOUR_CODED attributes."""

    @staticmethod
    def encode(qpos, symbols, codebook, header, cfg) -> tuple[list[Section], np.ndarray]:
        from gscodec.coding.positions import encode_positions
        from gscodec.coding.symbols import encode_best

        pos_bytes, order = encode_positions(qpos, cfg.position_bits)
        sections = [Section("positions", "morton-delta", pos_bytes)]
        graph = _graph(qpos[order], cfg) if cfg.neighbour_context and len(qpos) else None
        for name, q in symbols.items():
            bits = _symbol_bits(name, cfg, header)
            data, method = encode_best(q[order], bits)[:2]
            if graph is not None and name in NEIGHBOUR_CODED:
                data, method = _smaller_neighbour(q[order], bits, graph, _same_key(name, symbols, order),
                                                  data, method)
            sections.append(Section(name, method, data))
        if codebook is not None:
            qc = _quantize_codebook(codebook, cfg.codebook_bits, header)
            data, method = encode_best(qc, cfg.codebook_bits)[:2]
            sections.append(Section(CODEBOOK, method, data))
        return sections, order

    @staticmethod
    def decode(sections, header, cfg, n, degree):
        from gscodec.coding.positions import decode_positions
        from gscodec.coding.symbols import decode_best

        qpos = decode_positions(need(sections, "positions"), max_points=n)
        if qpos.shape != (n, 3):
            raise CorruptStreamError(f"positions decoded to {len(qpos)} points, header says {n}")
        out, graph = {}, None
        shapes = _symbol_shapes(header, cfg, n, degree)
        for name in sorted(shapes, key=lambda k: k != "quat_index"):  # the quats' neighbour key first
            (c, bits), sec = shapes[name], need_section(sections, name)
            if sec.method in NEIGHBOUR_METHODS and name in NEIGHBOUR_CODED:
                graph = graph if graph is not None else _graph(qpos, cfg)
                key = out["quat_index"][:, 0] if name == "quats" else None
                q = decode_neighbour(sec.data, graph, sec.method, c, key, bits=bits)
            else:
                q = decode_best(sec.data, sec.method, n, channels=c)
            out[name] = _check_symbols(name, q, n, c, bits)
        codebook = None
        if "sh_labels" in out:
            k, d = int(header["codebook_size"]), 3 * ((degree + 1) ** 2 - 1)
            sec = need_section(sections, CODEBOOK)
            qc = _check_symbols(CODEBOOK, decode_best(sec.data, sec.method, k, channels=d), k, d,
                                cfg.codebook_bits)
            codebook = _dequantize_codebook(qc, cfg.codebook_bits, header)
        return qpos, out, codebook


def _graph(qpos_sorted: np.ndarray, cfg) -> NeighbourGraph:
    return neighbour_graph(qpos_sorted, NeighbourConfig(cfg.neighbour_levels, cfg.neighbour_k, cfg.neighbour_window))


def _same_key(name: str, symbols: dict, order: np.ndarray):
    """Quaternions in smallest-three form are comparable only with the same largest component."""
    return symbols["quat_index"][order, 0] if name == "quats" else None


def _smaller_neighbour(q, bits, graph, key, data, method) -> tuple[bytes, str]:
    """The neighbour-context coding of q if one variant beats (data, method), else those."""
    levels = neighbour_predictions(q, graph, key)  # shared by the variants
    for m in NEIGHBOUR_METHODS if q.shape[1] > 1 else ("neighbourplain", "neighbour"):  # one channel: no chan context
        b = encode_neighbour(q, bits, graph, m, key, levels)
        if len(b) < len(data):
            data, method = b, m
    return data, method


def _symbol_bits(name: str, cfg, header: dict) -> int:
    if name == "quat_index":
        return 2
    if name == "sh_labels":
        size = int(header["codebook_size"])
        return max(1, int(np.ceil(np.log2(size)))) if size > 1 else 1
    return cfg.bits[name]


# ---- image layout ------------------------------------------------------------------------
def _to_planes(q: np.ndarray, bits: int) -> list[np.ndarray]:
    """Split [N,C] symbols into uint8 planes of at most 3 channels (high byte first if > 8 bits)."""
    q = np.asarray(q, np.int64)
    bytes_ = [q >> 8, q & 0xFF] if bits > 8 else [q]
    planes = []
    for b in bytes_:
        for j in range(0, q.shape[1], 3):
            planes.append(b[:, j:j + 3].astype(np.uint8))
    return planes


def _from_planes(planes: list[np.ndarray], c: int, bits: int) -> np.ndarray:
    groups = (c + 2) // 3
    parts = [np.concatenate(planes[i * groups:(i + 1) * groups], 1).astype(np.int64)
             for i in range(2 if bits > 8 else 1)]
    return ((parts[0] << 8) | parts[1]) if bits > 8 else parts[0]


def _n_planes(c: int, bits: int) -> int:
    return (2 if bits > 8 else 1) * ((c + 2) // 3)


class ImageLayout:
    """PLAS-style 3D-to-2D sort into a square grid; one lossless image per attribute plane."""

    @staticmethod
    def encode(qpos, symbols, codebook, header, cfg) -> tuple[list[Section], np.ndarray]:
        from gscodec.coding.image import encode_image
        from gscodec.coding.sort import sort_into_grid

        n = len(qpos)
        levels = float((1 << cfg.position_bits) - 1)
        feats = [qpos / levels] + [symbols[k] / float((1 << cfg.bits[k]) - 1)
                                   for k in ("sh_dc", "opacity", "scales")]
        feats = np.concatenate(feats, 1).astype(np.float32)
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-8) if n else feats
        order, side = sort_into_grid(feats, seed=cfg.seed) if n else (np.zeros(0, np.int64), 0)
        header["grid_side"] = int(side)
        arrays = {"positions": (qpos, cfg.position_bits), **{k: (v, _symbol_bits(k, cfg, header))
                                                            for k, v in symbols.items()}}
        sections = []
        for name, (q, bits) in arrays.items():
            for i, plane in enumerate(_to_planes(q[order], bits)):
                img = _grid(plane, side)
                data, method = encode_image(img, cfg.image_method)
                sections.append(Section(f"{name}.{i}", method, data))
        if codebook is not None:
            qc = _quantize_codebook(codebook, cfg.codebook_bits, header).astype(np.uint8)
            data, method = encode_image(qc, cfg.image_method)
            sections.append(Section(CODEBOOK, method, data))
        return sections, order

    @staticmethod
    def decode(sections, header, cfg, n, degree):
        from gscodec.coding.image import decode_image
        from gscodec.coding.sort import grid_shape

        side = int(header.get("grid_side", -1))
        rows, expected = grid_shape(n) if n else (0, 0)
        if side != expected:
            raise CorruptStreamError(f"grid side {side} does not match {n} splats (expected {expected})")

        def read(name: str, c: int, bits: int) -> np.ndarray:
            planes = []
            for i in range(_n_planes(c, bits)):
                sec = need_section(sections, f"{name}.{i}")
                img = decode_image(sec.data, sec.method)
                width = min(3, c - 3 * (i % ((c + 2) // 3)))
                if img.ndim == 2:
                    img = img[:, :, None]
                if img.shape != (rows, side, width):
                    raise CorruptStreamError(f"image {name}.{i} has shape {list(img.shape)}")
                planes.append(img.reshape(rows * side, width)[:n])
            return _check_symbols(name, _from_planes(planes, c, bits), n, c, bits)

        qpos = read("positions", 3, cfg.position_bits)
        out = {name: read(name, c, bits) for name, (c, bits) in _symbol_shapes(header, cfg, n, degree).items()}
        codebook = None
        if "sh_labels" in out:
            k, d = int(header["codebook_size"]), 3 * ((degree + 1) ** 2 - 1)
            sec = need_section(sections, CODEBOOK)
            qc = decode_image(sec.data, sec.method)
            qc = qc.reshape(qc.shape[0], -1)
            qc = _check_symbols(CODEBOOK, qc, k, d, cfg.codebook_bits)
            codebook = _dequantize_codebook(qc, cfg.codebook_bits, header)
        return qpos, out, codebook


def _grid(plane: np.ndarray, side: int) -> np.ndarray:
    """[N,c] -> [rows, side, c] (or [rows, side] for c == 1) in raster order, as the sorter lays
    items out; the tail of the last row repeats the last item (smoother than zeros)."""
    n, c = plane.shape
    rows = -(-n // side)
    img = np.empty((rows * side, c), np.uint8)
    img[:n] = plane
    img[n:] = plane[-1]
    img = img.reshape(rows, side, c)
    return img[:, :, 0] if c == 1 else img


__all__ = ["get", "EntropyLayout", "ImageLayout"]
