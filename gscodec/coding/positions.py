"""Lossless coding of quantized positions: Morton sort, delta, entropy-coded bit lengths.

Why: a point cloud is a *set*, so its order is free. Sorting by Morton code makes the
codes increasing; consecutive differences are small and their cost is about
log2(volume / N) bits per point instead of 3*bits. Each delta d is split into its bit
length k = bitlen(d) (entropy coded with one fitted categorical via the ANS wrapper) and its
k-1 bits below the leading one (stored raw, grouped by k). The encoder also tries lzma
on the byte planes of the deltas and keeps the smaller; a 1-byte tag records the choice.
The codec must reorder every other attribute with the returned `order`.
"""
from __future__ import annotations

import lzma
import struct

import numpy as np

from gscodec.coding import ans
from gscodec.errors import CorruptStreamError, InputError

MAX_BITS = 21  # 3*21 = 63 bits of Morton code fit in a uint64
MAX_POINTS = 1 << 31
TAG_BUCKETS, TAG_LZMA = 1, 2


def quantize_positions(xyz, bits: int = 16, lo=None, hi=None):
    """Uniform grid over the bounding box: (q uint32 [N,3], lo float32[3], hi float32[3])."""
    _check_bits(bits)
    x = np.asarray(xyz, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise InputError(f"positions must have shape [N,3], got {list(x.shape)}")
    if not np.all(np.isfinite(x)):
        raise InputError("positions contain NaN or Inf")
    if lo is None:
        lo = x.min(0) if len(x) else np.zeros(3)
    if hi is None:
        hi = x.max(0) if len(x) else np.zeros(3)
    lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    levels = (1 << bits) - 1
    span = np.maximum(hi.astype(np.float64) - lo, 1e-30)
    q = np.clip(np.round((x - lo) / span * levels), 0, levels).astype(np.uint32)
    return q, lo, hi


def dequantize_positions(q, bits: int, lo, hi) -> np.ndarray:
    """Grid points back to float32 coordinates."""
    _check_bits(bits)
    lo64, hi64 = np.asarray(lo, np.float32).astype(np.float64), np.asarray(hi, np.float32).astype(np.float64)
    levels = (1 << bits) - 1
    return (lo64 + np.asarray(q, np.float64) / levels * (hi64 - lo64)).astype(np.float32)


def _check_bits(bits) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise InputError(f"position bits must be an integer in 1..{MAX_BITS}, got {bits!r}")


def _spread(v: np.ndarray) -> np.ndarray:
    """Insert two zero bits between the low 21 bits of v (uint64)."""
    v = v.astype(np.uint64) & np.uint64(0x1FFFFF)
    for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
                        (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def _compact(v: np.ndarray) -> np.ndarray:
    v = v & np.uint64(0x1249249249249249)
    for shift, mask in ((2, 0x10C30C30C30C30C3), (4, 0x100F00F00F00F00F), (8, 0x1F0000FF0000FF),
                        (16, 0x1F00000000FFFF), (32, 0x1FFFFF)):
        v = (v | (v >> np.uint64(shift))) & np.uint64(mask)
    return v


def morton(q) -> np.ndarray:
    q = np.asarray(q, np.uint64)
    return _spread(q[:, 0]) << np.uint64(2) | _spread(q[:, 1]) << np.uint64(1) | _spread(q[:, 2])


def unmorton(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.uint64)
    return np.stack([_compact(m >> np.uint64(2)), _compact(m >> np.uint64(1)), _compact(m)], 1).astype(np.uint32)


def _bitlen(d: np.ndarray) -> np.ndarray:
    """Bit length of uint64 values (0 for 0), exact (no float rounding)."""
    k = np.zeros(d.shape, np.int64)
    v = d.copy()
    for s in (32, 16, 8, 4, 2, 1):
        big = v >= (np.uint64(1) << np.uint64(s))
        k[big] += s
        v[big] >>= np.uint64(s)
    return k + (v > 0)


def _encode_buckets(deltas: np.ndarray) -> bytes:
    """Layout: u32 table+ANS length, encode_channels(k) block, packed low bits."""
    k = _bitlen(deltas)
    block, _ = ans.encode_channels(k[:, None])
    return struct.pack("<I", len(block)) + block + _pack_low_bits(deltas, k)


def _pack_low_bits(d: np.ndarray, k: np.ndarray) -> bytes:
    """For each bit length b>=2 in increasing order, the low b-1 bits of the deltas with
    that length (in point order), MSB first, as one packed bit stream."""
    out = []
    for b in range(2, int(k.max(initial=0)) + 1):
        v = d[k == b]
        if len(v):
            sh = np.arange(b - 2, -1, -1, dtype=np.uint64)
            out.append(((v[:, None] >> sh) & np.uint64(1)).astype(np.uint8).reshape(-1))
    return np.packbits(np.concatenate(out)).tobytes() if out else b""


def _decode_buckets(data: bytes, n: int) -> np.ndarray:
    if len(data) < 4:
        raise CorruptStreamError("positions: bucket block truncated")
    (nb,) = struct.unpack_from("<I", data, 0)
    if nb > len(data) - 4:
        raise CorruptStreamError(f"positions: bit-length block of {nb} bytes exceeds the {len(data) - 4} left")
    k = ans.decode_channels(data[4 : 4 + nb], n)
    if k.shape[1] != 1 or (n and k.max() > 3 * MAX_BITS):
        raise CorruptStreamError("positions: invalid bit-length block")
    return _unpack_low_bits(data[4 + nb :], k[:, 0].astype(np.int64))


def _unpack_low_bits(data: bytes, k: np.ndarray) -> np.ndarray:
    d = np.where(k > 0, np.uint64(1) << np.maximum(k - 1, 0).astype(np.uint64), np.uint64(0)).astype(np.uint64)
    total = int(np.maximum(k - 1, 0).sum())
    if len(data) != (total + 7) // 8:
        raise CorruptStreamError(f"positions: low-bit block is {len(data)} bytes, expected {(total + 7) // 8}")
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[:total]
    off = 0
    for b in range(2, int(k.max(initial=0)) + 1):
        idx = np.flatnonzero(k == b)
        if len(idx):
            w = b - 1
            grp = bits[off : off + len(idx) * w].reshape(-1, w).astype(np.uint64)
            d[idx] |= (grp << np.arange(w - 1, -1, -1, dtype=np.uint64)).sum(1, dtype=np.uint64)
            off += len(idx) * w
    return d


def _encode_lzma(deltas: np.ndarray, bits: int) -> bytes:
    nplanes = (3 * bits + 7) // 8
    planes = deltas.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nplanes].T
    return lzma.compress(np.ascontiguousarray(planes).tobytes(), preset=6)


def _decode_lzma(data: bytes, n: int, bits: int) -> np.ndarray:
    nplanes = (3 * bits + 7) // 8
    want = nplanes * n
    d = lzma.LZMADecompressor()
    try:
        raw = d.decompress(data, max_length=want + 1)
    except lzma.LZMAError as e:
        raise CorruptStreamError(f"positions: lzma block does not decompress ({e})") from None
    if len(raw) != want or not d.eof or d.unused_data:
        raise CorruptStreamError(f"positions: lzma block holds {len(raw)} bytes, expected {want}")
    planes = np.frombuffer(raw, np.uint8).reshape(nplanes, n)
    full = np.zeros((n, 8), np.uint8)
    full[:, :nplanes] = planes.T
    return full.view("<u8").reshape(n).astype(np.uint64)


def encode_positions(q, bits: int = 16, *, methods=("buckets", "lzma")) -> tuple[bytes, np.ndarray]:
    """Code grid positions q [N,3] (< 2^bits). Returns (bytes, order): the payload decodes
    to q[order], so every other attribute must be stored in `order` too. Duplicates are
    kept. Layout: u8 tag, u8 bits, u32 N, method payload."""
    _check_bits(bits)
    q = np.asarray(q)
    if q.ndim != 2 or q.shape[1] != 3:
        raise InputError(f"quantized positions must have shape [N,3], got {list(q.shape)}")
    if q.dtype.kind not in "iu":
        raise InputError(f"quantized positions must be integers, got dtype {q.dtype}")
    if len(q) >= MAX_POINTS:
        raise InputError(f"{len(q)} points is above the limit of {MAX_POINTS}")
    if q.size and (q.min() < 0 or q.max() >= (1 << bits)):
        raise InputError(f"quantized positions must lie in [0, {(1 << bits) - 1}]")
    codes = morton(q)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    deltas = np.diff(codes, prepend=np.uint64(0)) if len(codes) else codes
    cands = []
    if "buckets" in methods:
        cands.append((TAG_BUCKETS, _encode_buckets(deltas)))
    if "lzma" in methods:
        cands.append((TAG_LZMA, _encode_lzma(deltas, bits)))
    if not cands:
        raise InputError(f"no known position coding method in {methods}")
    tag, body = min(cands, key=lambda c: len(c[1]))
    return struct.pack("<BBI", tag, bits, len(q)) + body, order


def decode_positions(data: bytes, *, max_points: int = 1 << 25) -> np.ndarray:
    """Inverse of encode_positions: q uint32 [N,3] in Morton order. Callers pass the count their
    header declares as `max_points`, so a payload claiming more is refused before allocating."""
    if len(data) < 6:
        raise CorruptStreamError("positions: header truncated")
    tag, bits, n = struct.unpack_from("<BBI", data, 0)
    if not 1 <= bits <= MAX_BITS:
        raise CorruptStreamError(f"positions: invalid bit depth {bits}")
    if n > max_points:
        raise CorruptStreamError(f"positions: {n} points is above the limit of {max_points}")
    body = data[6:]
    if tag == TAG_BUCKETS:
        deltas = _decode_buckets(body, n)
    elif tag == TAG_LZMA:
        deltas = _decode_lzma(body, n, bits)
    else:
        raise CorruptStreamError(f"positions: unknown method tag {tag}")
    if n == 0:
        return np.zeros((0, 3), np.uint32)
    limit = np.uint64(1) << np.uint64(3 * bits)
    codes = np.cumsum(deltas, dtype=np.uint64)
    if np.any(deltas >= limit) or np.any(codes[1:] < codes[:-1]) or codes[-1] >= limit:
        raise CorruptStreamError("positions: decoded Morton codes leave the grid")
    return unmorton(codes)
