"""Scalar quantization and lossless coding of quantized attribute tables [N, C].

Why several methods: which model wins depends on the attribute and scene (a noisy
attribute gains nothing from prediction, a smooth one does, tiny scenes pay more for
stored tables), so `encode_best` codes every candidate and keeps the smallest; the
decoder is told the winner's name. All methods are exactly lossless on q in
[0, 2^bits). Every payload starts with u8 bits, u16 C so it is self-describing.

* ``raw``        -- bits per value, bit-packed (never more than the input precision).
* ``factorized`` -- one fitted categorical per channel (ans.encode_channels).
* ``delta``      -- residual to the previous row (previous Gaussian in Morton order),
                    mod 2^bits, one categorical per channel: wins on spatially smooth data.
* ``prevchan``   -- per-(channel, bucket of the previous channel's symbol) categorical:
                    exploits correlation between channels of one Gaussian (e.g. RGB).
* ``deltactx``   -- delta residuals, with a per-(channel, size bucket of the previous
                    channel's residual) categorical: smooth *and* channel-correlated data.
* ``context``    -- per-(channel, caller-given context id) categorical; the decoder must
                    be given the same context ids (e.g. a neighbour's decoded value).
"""
from __future__ import annotations

import struct

import constriction
import numpy as np

from gscodec.coding import ans
from gscodec.errors import CorruptStreamError, InputError

MAX_BITS = 16
MAX_CONTEXTS = 4096
MAX_SYMBOLS = 1 << 28  # values one decode may produce (2 GiB as int64): the global cap
METHODS = ("raw", "factorized", "delta", "prevchan", "deltactx", "context")


def quantize_uniform(x, bits: int, lo=None, hi=None):
    """Per-channel uniform quantization: (q int32 [N,C], lo float32 [C], hi float32 [C]).
    lo/hi are float32 so the decoder (which reads them from the stream) uses the very
    same values; values outside [lo, hi] are clamped."""
    _check_bits(bits)
    a = np.asarray(x, np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"values must have shape [N,C], got {list(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise InputError("values to quantize contain NaN or Inf")
    c = a.shape[1]
    lo = np.asarray(a.min(0) if len(a) else np.zeros(c), np.float32) if lo is None else np.broadcast_to(np.asarray(lo, np.float32), (c,))
    hi = np.asarray(a.max(0) if len(a) else np.zeros(c), np.float32) if hi is None else np.broadcast_to(np.asarray(hi, np.float32), (c,))
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("quantization range is not finite")
    levels = (1 << bits) - 1
    span = hi.astype(np.float64) - lo.astype(np.float64)
    scale = np.where(span > 0, levels / np.where(span > 0, span, 1), 0.0)
    q = np.clip(np.round((a - lo.astype(np.float64)) * scale), 0, levels).astype(np.int32)
    return q, lo.copy(), hi.copy()


def dequantize_uniform(q, bits: int, lo, hi) -> np.ndarray:
    """Inverse of quantize_uniform up to the step (hi-lo)/(2^bits-1); float32 [N,C]."""
    _check_bits(bits)
    lo64 = np.asarray(lo, np.float32).astype(np.float64)
    hi64 = np.asarray(hi, np.float32).astype(np.float64)
    levels = (1 << bits) - 1
    return (lo64 + np.asarray(q, np.float64) * ((hi64 - lo64) / levels)).astype(np.float32)


def _check_bits(bits) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise InputError(f"bits must be an integer in 1..{MAX_BITS}, got {bits!r}")


def _check_q(q, bits: int) -> np.ndarray:
    _check_bits(bits)
    a = np.asarray(q)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.dtype.kind not in "iu":
        raise InputError(f"symbols must be an integer array [N,C], got {a.dtype} {list(a.shape)}")
    if a.shape[1] > 65535:
        raise InputError(f"{a.shape[1]} channels is above the limit of 65535")
    if a.size and (a.min() < 0 or a.max() >= (1 << bits)):
        raise InputError(f"symbols must lie in [0, {(1 << bits) - 1}] for bits={bits}")
    return a.astype(np.int64)


def _check_contexts(contexts, n: int, c: int) -> np.ndarray:
    ctx = np.asarray(contexts)
    if ctx.ndim == 1:
        ctx = np.repeat(ctx[:, None], c, 1)
    if ctx.shape != (n, c) or ctx.dtype.kind not in "iu":
        raise InputError(f"contexts must be integer [N] or [N,C] = [{n},{c}], got {ctx.dtype} {list(ctx.shape)}")
    if ctx.size and (ctx.min() < 0 or ctx.max() >= MAX_CONTEXTS):
        raise InputError(f"context ids must lie in [0, {MAX_CONTEXTS})")
    return ctx.astype(np.int64)


# ---- raw -------------------------------------------------------------------------------
def _raw_encode(q: np.ndarray, bits: int) -> bytes:
    sh = np.arange(bits - 1, -1, -1, dtype=np.int64)
    return np.packbits(((q.reshape(-1, 1) >> sh) & 1).astype(np.uint8).reshape(-1)).tobytes()


def _raw_decode(data: bytes, n: int, c: int, bits: int) -> np.ndarray:
    total = n * c * bits
    if len(data) != (total + 7) // 8:
        raise CorruptStreamError(f"raw symbols: {len(data)} bytes, expected {(total + 7) // 8}")
    b = np.unpackbits(np.frombuffer(data, np.uint8))[:total].reshape(-1, bits).astype(np.int64)
    return (b << np.arange(bits - 1, -1, -1, dtype=np.int64)).sum(1).reshape(n, c)


# ---- context model ------------------------------------------------------------------------
def _prev_ctx(col: np.ndarray, bits: int) -> np.ndarray:
    """Context bucket = top 3 bits of the previous channel's symbol (8 buckets)."""
    return col >> max(bits - 3, 0) if bits > 3 else col


def signed_mod(r: np.ndarray, bits: int) -> np.ndarray:
    """A residual taken mod 2^bits, read as signed: in [-2^(bits-1), 2^(bits-1))."""
    half = 1 << (bits - 1)
    return ((r + half) & ((1 << bits) - 1)) - half


def _resid_ctx(col: np.ndarray, bits: int) -> np.ndarray:
    """Size bucket (0..7) of a residual taken mod 2^bits, read as signed."""
    mag = np.abs(signed_mod(col, bits))
    return np.minimum(np.floor(np.log2(mag + 1)).astype(np.int64), 7)


def _delta(q: np.ndarray, bits: int) -> np.ndarray:
    return np.diff(q, axis=0, prepend=np.zeros((1, q.shape[1]), np.int64)) & ((1 << bits) - 1)


def _ctx_encode(q: np.ndarray, ctx_fn) -> bytes:
    """Per (channel, context) categorical. ctx_fn(j, q_decoded_so_far) -> [N] ids, so
    contexts may depend on already coded channels. Layout: ans.pack_tables block, ANS words."""
    n, c = q.shape
    groups = []
    for j in range(c):
        ctx = ctx_fn(j, q)
        for u in _distinct(ctx):
            s = q[ctx == u, j]
            groups.append((s, ans.quantize_pmf(np.bincount(s, minlength=1))))
    coder = constriction.stream.stack.AnsCoder()
    ans.encode_groups(coder, groups)
    return ans.pack_tables([f for _, f in groups]) + ans.words_to_bytes(coder.get_compressed())


def _distinct(ctx: np.ndarray) -> np.ndarray:
    """np.unique(ctx) (sorted distinct values), by bincount when the contexts are small
    non-negative integers, as they are here: numpy's hash-based unique took a fifth of a
    context-coded decode."""
    if ctx.size and ctx.dtype.kind in "iu" and ctx.min() >= 0 and ctx.max() < (1 << 20):
        return np.flatnonzero(np.bincount(ctx))
    return np.unique(ctx)


def _ctx_decode(data: bytes, n: int, c: int, ctx_fn, what: str) -> np.ndarray:
    q = np.zeros((n, c), np.int64)
    raw, used = ans.read_table_block(data, what)
    coder = ans.coder_from_bytes(data[used:], what)
    off = 0
    for j in range(c):
        ctx = ctx_fn(j, q)
        for u in _distinct(ctx):
            f, off = ans.pmf_from_bytes(raw, off)
            sel = np.flatnonzero(ctx == u)
            (vals,) = ans.decode_groups(coder, [(len(sel), f)], what)
            q[sel, j] = vals
    if off != len(raw):
        raise CorruptStreamError(f"{what}: {len(raw) - off} stray table bytes")
    ans.finish_decoding(coder, what)
    return q


# ---- public ------------------------------------------------------------------------------
def encode_symbols(q, bits: int, method: str, contexts=None) -> bytes:
    """Code q [N,C] in [0, 2^bits) with one named method (see module doc)."""
    q = _check_q(q, bits)
    n, c = q.shape
    head = struct.pack("<BH", bits, c)
    if method == "raw":
        return head + _raw_encode(q, bits)
    if method == "factorized":
        return head + ans.encode_channels(q)[0]
    if method == "delta":
        return head + ans.encode_channels(_delta(q, bits))[0]
    if method == "deltactx":
        return head + _ctx_encode(_delta(q, bits), lambda j, r: _resid_ctx(r[:, j - 1], bits) if j else np.zeros(n, np.int64))
    if method == "prevchan":
        return head + _ctx_encode(q, lambda j, qq: _prev_ctx(qq[:, j - 1], bits) if j else np.zeros(n, np.int64))
    if method == "context":
        if contexts is None:
            raise InputError("method 'context' needs contexts")
        ctx = _check_contexts(contexts, n, c)
        return head + _ctx_encode(q, lambda j, qq: ctx[:, j])
    raise InputError(f"unknown symbol coding method {method!r}; known: {', '.join(METHODS)}")


def decode_symbols(data: bytes, method: str, n: int, contexts=None, channels: int | None = None) -> np.ndarray:
    """Inverse of encode_symbols: int32 [n, C]. `channels`: the C the caller expects, checked
    against the payload's before anything of n x C is allocated (without it C is bounded
    by the payload: every entropy-coded channel has a table of its own)."""
    if len(data) < 3:
        raise CorruptStreamError(f"{method} symbols: header truncated")
    bits, c = struct.unpack_from("<BH", data, 0)
    if not 1 <= bits <= MAX_BITS:
        raise CorruptStreamError(f"{method} symbols: invalid bit depth {bits}")
    if channels is not None and c != channels:
        raise CorruptStreamError(f"{method} symbols: {c} channels, expected {channels}")
    body = data[3:]
    # unknown C: bounded by the payload (a channel of a real stream costs about a byte); a known C
    # is the caller's, checked above (constant channels can share a few bytes: 45 in 22 seen)
    if channels is None and method != "raw" and c > max(len(body), 1):
        raise CorruptStreamError(f"{method} symbols: {c} channels cannot have their tables in {len(body)} bytes")
    if n * c > MAX_SYMBOLS:
        raise CorruptStreamError(f"{method} symbols: {n} x {c} values is above the limit of {MAX_SYMBOLS}")
    if method == "raw":
        q = _raw_decode(body, n, c, bits)
    elif method in ("factorized", "delta"):
        q = ans.decode_channels(body, n).astype(np.int64)
        if q.shape[1] != c:
            raise CorruptStreamError(f"{method} symbols: {q.shape[1]} channels, header says {c}")
        if method == "delta":
            q = np.cumsum(q, axis=0) & ((1 << bits) - 1)
    elif method == "prevchan":
        q = _ctx_decode(body, n, c, lambda j, qq: _prev_ctx(qq[:, j - 1], bits) if j else np.zeros(n, np.int64), method)
    elif method == "deltactx":
        r = _ctx_decode(body, n, c, lambda j, rr: _resid_ctx(rr[:, j - 1], bits) if j else np.zeros(n, np.int64), method)
        q = np.cumsum(r, axis=0) & ((1 << bits) - 1)
    elif method == "context":
        if contexts is None:
            raise InputError("method 'context' needs contexts")
        ctx = _check_contexts(contexts, n, c)
        q = _ctx_decode(body, n, c, lambda j, qq: ctx[:, j], method)
    else:
        raise CorruptStreamError(f"unknown symbol coding method {method!r}")
    if q.size and (q.min() < 0 or q.max() >= (1 << bits)):
        raise CorruptStreamError(f"{method} symbols: decoded values outside [0, 2^{bits})")
    return q.astype(np.int32)


def encode_best(q, bits: int, contexts=None, methods=None) -> tuple[bytes, str, int]:
    """Try every applicable method; return (bytes, method name, size in bits) of the
    smallest (ties go to the earlier, simpler method)."""
    methods = methods or [m for m in METHODS if m != "context" or contexts is not None]
    best = None
    for m in methods:
        b = encode_symbols(q, bits, m, contexts if m == "context" else None)
        if best is None or len(b) < len(best[0]):
            best = (b, m)
    return best[0], best[1], 8 * len(best[0])


def decode_best(data: bytes, method: str, n: int, contexts=None, channels: int | None = None) -> np.ndarray:
    return decode_symbols(data, method, n, contexts, channels)


def encode_with_context(q, contexts, bits: int) -> bytes:
    """Shorthand for encode_symbols(q, bits, "context", contexts)."""
    return encode_symbols(q, bits, "context", contexts)


def decode_with_context(data: bytes, contexts, n: int) -> np.ndarray:
    return decode_symbols(data, "context", n, contexts)
