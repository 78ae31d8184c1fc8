"""Lossless entropy coding over constriction's ANS coder (knows nothing about 3DGS).

Why a wrapper: constriction panics (pyo3 ``PanicException``, a ``BaseException``) or
raises ``ValueError`` on bad parameters or bad data, wants exact dtypes (int32 symbols,
float64 parameters here), and its models must be rebuilt *bit-identically* on the decoder
side. Every function here turns those failures into InputError (bad caller input) or
CorruptStreamError (bad stream) and keeps encoder and decoder models identical:

* Categorical models are always built from integer frequencies that the caller transmits
  (``quantize_pmf`` / ``pmf_to_bytes``), with ``perfect=False``; ``model_freqs`` replicates
  constriction's quantization exactly, so ``estimate_bits_*`` are the true model costs.
* Gaussian means/stds are snapped to multiples of 2^-16 (float64) on both sides, stds are
  clamped to [STD_MIN, STD_MAX] and means to [lo-2, hi+2]. The coder's model is then a
  function of the snapped value only, so encoder/decoder float noise below 2^-17 changes
  nothing unless it straddles a rounding boundary; codecs must still compute parameters
  the same way (same code path, same dtype) on both sides.

Stream layout of every ANS payload: the coder's uint32 words, little endian. Symbols that
fall outside a Gaussian's [lo, hi] are coded as the escape symbol lo-1 or hi+1 and their
raw int32 values follow the words (``u32 word count`` prefix tells them apart).
"""
from __future__ import annotations

import struct
import zlib

import constriction
import numpy as np

from gscodec.errors import CorruptStreamError, InputError

_model = constriction.stream.model
_stack = constriction.stream.stack

PRECISION = 24  # constriction's DefaultAnsCoder probability precision
GRID = 2.0**16  # means/stds snapped to multiples of 1/GRID
STD_MIN = 1.0 / 64  # a bin at 0.5/STD_MIN = 32 sigma already has mass < 2^-24: smaller buys nothing
STD_MAX = 2.0**20
TAIL_FLOOR = 2.0**-PRECISION  # the least probability the coder gives a symbol in range; the
# training likelihoods floor there too (gscodec.entropy.gaussian), so the estimate is the cost
MAX_ALPHABET = 1 << 20
_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


# ---- small helpers -----------------------------------------------------------------
def _guard(what: str, fn, *args):
    """Run a constriction call; any failure from it becomes CorruptStreamError."""
    try:
        return fn(*args)
    except _FATAL:
        raise
    except BaseException as e:  # pyo3 PanicException is a BaseException
        raise CorruptStreamError(f"{what}: entropy decoder failed ({type(e).__name__}: {e})") from None


def _int_symbols(symbols, name: str = "symbols") -> np.ndarray:
    a = np.asarray(symbols)
    if a.size == 0:
        return np.zeros(0, np.int64)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise InputError(f"{name} must be integers (got non-integer floats)")
    elif a.dtype.kind not in "iub":
        raise InputError(f"{name} must be an integer array, got dtype {a.dtype}")
    return a.astype(np.int64).reshape(-1)


def words_to_bytes(words: np.ndarray) -> bytes:
    return np.ascontiguousarray(words, dtype="<u4").tobytes()


def new_coder():
    """An empty ANS stack coder (encode with encode_groups / encode_* and get_compressed)."""
    return _stack.AnsCoder()


def coder_from_bytes(data: bytes, what: str):
    if len(data) % 4:
        raise CorruptStreamError(f"{what}: ANS payload length {len(data)} is not a multiple of 4")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    if len(words) and words[-1] == 0:
        raise CorruptStreamError(f"{what}: ANS payload ends in a zero word")
    return _guard(what, _stack.AnsCoder, words)


def finish_decoding(coder, what: str) -> None:
    if not _guard(what, coder.is_empty):
        raise CorruptStreamError(f"{what}: data left over after decoding all symbols")


# ---- categorical models ----------------------------------------------------------------
def quantize_pmf(counts, total: int | None = None) -> np.ndarray:
    """Integer frequencies (uint32) proportional to `counts`, summing to about `total`;
    every symbol with a nonzero count keeps a nonzero frequency. Default total adapts to
    the sample size (2^10..2^16) so stored tables stay small when N is small."""
    c = np.asarray(counts, dtype=np.float64).reshape(-1)
    if c.size == 0 or c.size > MAX_ALPHABET:
        raise InputError(f"pmf needs 1..{MAX_ALPHABET} symbols, got {c.size}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InputError("pmf counts must be finite and non-negative")
    s = c.sum()
    if s <= 0:
        out = np.zeros(c.size, np.uint32)
        out[0] = 1
        return out
    if total is None:
        total = int(np.clip(2 ** np.ceil(np.log2(max(s, 1.0))), 2**10, 2**16))
    f = np.floor(c / s * total).astype(np.int64)
    f[(c > 0) & (f == 0)] = 1
    return f.astype(np.uint32)


def _padded(freqs) -> np.ndarray:
    """constriction cannot build a 1-symbol Categorical (its probability would be exactly
    1); a zero-frequency dummy symbol makes it 2 (cost: 2^-24 of the mass)."""
    p = np.asarray(freqs, dtype=np.float64).reshape(-1)
    return np.append(p, 0.0) if p.size == 1 else p


def model_freqs(freqs) -> np.ndarray:
    """The exact 24-bit frequencies constriction uses for Categorical(freqs, perfect=False)."""
    return leaky_freqs(_padded(freqs)[None])[0][: np.asarray(freqs).size]


def leaky_freqs(p: np.ndarray) -> np.ndarray:
    """constriction's 'leaky' fast quantization of probabilities p [..., n] (n >= 2) along the
    last axis, as the batched Categorical(perfect=False) applies it per row:
    left_i = floor(cumsum_<i * (2^24-n)/sum) + i, frequency = the gap to the next left."""
    n = p.shape[-1]
    scale = ((1 << PRECISION) - n) / p.sum(-1, keepdims=True)
    cum = np.concatenate([np.zeros(p.shape[:-1] + (1,)), np.cumsum(p, axis=-1)[..., :-1]], axis=-1)
    left = np.floor(cum * scale).astype(np.int64) + np.arange(n)
    return np.diff(left, axis=-1, append=np.full(p.shape[:-1] + (1,), 1 << PRECISION))


def categorical_model(freqs, what: str):
    f = np.asarray(freqs)
    if f.ndim != 1 or f.size == 0 or f.size > MAX_ALPHABET or np.any(f < 0) or f.sum() <= 0:
        raise CorruptStreamError(f"{what}: invalid frequency table")
    if f.size >= (1 << PRECISION):
        raise CorruptStreamError(f"{what}: alphabet too large")
    return _guard(what, lambda: _model.Categorical(_padded(f), perfect=False))


def pmf_to_bytes(freqs) -> bytes:
    """u32 alphabet size + LEB128 varints of the frequencies."""
    f = np.asarray(freqs, dtype=np.uint64)
    return struct.pack("<I", f.size) + _varints(f)


def pmf_from_bytes(data: bytes, offset: int = 0) -> tuple[np.ndarray, int]:
    """Inverse of pmf_to_bytes; returns (freqs uint32, offset after the table)."""
    if offset + 4 > len(data):
        raise CorruptStreamError("pmf table truncated")
    (n,) = struct.unpack_from("<I", data, offset)
    if n == 0 or n > MAX_ALPHABET:
        raise CorruptStreamError(f"pmf table declares {n} symbols (allowed 1..{MAX_ALPHABET})")
    vals, end = _read_varints(data, offset + 4, n)
    if np.any(vals > 0xFFFFFFFF) or vals.sum() == 0:
        raise CorruptStreamError("pmf table has out-of-range or all-zero frequencies")
    return vals.astype(np.uint32), end


def _varints(v: np.ndarray) -> bytes:
    v = np.asarray(v, dtype=np.uint64)
    if v.size == 0:
        return b""
    nbytes = 1 + sum((v >= np.uint64(1 << (7 * k))).astype(np.int64) for k in range(1, 10))
    out = np.zeros(int(nbytes.sum()), np.uint8)
    starts = np.concatenate([[0], np.cumsum(nbytes)[:-1]])
    for k in range(int(nbytes.max())):
        sel = nbytes > k
        byte = ((v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        byte[nbytes[sel] > k + 1] |= 0x80
        out[starts[sel] + k] = byte
    return out.tobytes()


def _read_varints(data: bytes, offset: int, n: int) -> tuple[np.ndarray, int]:
    buf = np.frombuffer(data, np.uint8, offset=offset) if offset <= len(data) else np.zeros(0, np.uint8)
    buf = buf[: 5 * n]  # n varints of at most 5 bytes: never scan past them (forged blocks: tables x size)
    ends = np.flatnonzero(buf < 0x80)
    if len(ends) < n:
        raise CorruptStreamError("varint table truncated")
    ends = ends[:n]
    starts = np.concatenate([[0], ends[:-1] + 1])
    lens = ends - starts + 1
    if n and lens.max() > 5:
        raise CorruptStreamError("varint too long")
    vals = np.zeros(n, np.uint64)
    for k in range(int(lens.max()) if n else 0):
        sel = lens > k
        vals[sel] |= (buf[starts[sel] + k].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * k)
    return vals, offset + (int(ends[-1]) + 1 if n else 0)


def estimate_bits_categorical(symbols, freqs) -> float:
    """Sum of -log2 p(symbol) under the exact quantized model the coder uses."""
    s = _int_symbols(symbols)
    f = model_freqs(freqs)
    if s.size and (s.min() < 0 or s.max() >= f.size):
        raise InputError(f"symbols must lie in [0, {f.size - 1}]")
    cnt = np.bincount(s, minlength=f.size)
    return float(-(cnt * (np.log2(f) - PRECISION)).sum())


def encode_categorical(symbols, freqs) -> bytes:
    """i.i.d. symbols in [0, len(freqs)) under the integer frequency table `freqs`."""
    s = _int_symbols(symbols)
    f = np.asarray(freqs)
    if s.size and (s.min() < 0 or s.max() >= f.size):
        raise InputError(f"symbols must lie in [0, {f.size - 1}]")
    if s.size and np.any(np.asarray(f)[s] == 0):
        raise InputError("a symbol with zero frequency cannot be coded (use quantize_pmf)")
    coder = _stack.AnsCoder()
    if s.size:
        coder.encode_reverse(s.astype(np.int32), categorical_model(f, "categorical"))
    return words_to_bytes(coder.get_compressed())


def decode_categorical(data: bytes, freqs, n: int) -> np.ndarray:
    coder = coder_from_bytes(data, "categorical")
    out = np.zeros(0, np.int32)
    if n:
        out = np.asarray(_guard("categorical", coder.decode, categorical_model(freqs, "categorical"), int(n)))
    finish_decoding(coder, "categorical")
    return out.astype(np.int32)


def encode_groups(coder, groups) -> None:
    """Push several (symbols, freqs) groups on one coder so decode_groups pops them in order."""
    for s, f in reversed(list(groups)):
        if len(s):
            coder.encode_reverse(np.asarray(s, np.int32), categorical_model(f, "categorical"))


def decode_groups(coder, groups, what: str) -> list[np.ndarray]:
    """Decode (n, freqs) groups in order from one coder (no end check)."""
    out = []
    for n, f in groups:
        out.append(np.asarray(_guard(what, coder.decode, categorical_model(f, what), int(n))) if n else np.zeros(0, np.int32))
    return out


# ---- per-channel factorized model -------------------------------------------------------
def _check_2d(q) -> np.ndarray:
    a = np.asarray(q)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"symbols must have shape [N,C], got {list(a.shape)}")
    s = _int_symbols(a).reshape(a.shape)
    if s.size and (s.min() < 0 or s.max() >= MAX_ALPHABET):
        raise InputError(f"channel symbols must lie in [0, {MAX_ALPHABET})")
    return s


def encode_channels(symbols) -> tuple[bytes, int]:
    """One categorical per channel, fitted to the data (non-negative symbols [N,C]).
    Layout: u32 C, pack_tables block, ANS words. Returns (bytes, exact size in bits)."""
    s = _check_2d(symbols)
    n, c = s.shape
    groups = [(s[:, j], quantize_pmf(np.bincount(s[:, j], minlength=1) if n else [1])) for j in range(c)]
    coder = _stack.AnsCoder()
    encode_groups(coder, groups)
    out = struct.pack("<I", c) + pack_tables([f for _, f in groups]) + words_to_bytes(coder.get_compressed())
    return out, 8 * len(out)


def estimate_bits_channels(symbols) -> float:
    """Model bits of encode_channels' payload (tables and headers excluded)."""
    s = _check_2d(symbols)
    return sum(estimate_bits_categorical(s[:, j], quantize_pmf(np.bincount(s[:, j]))) for j in range(s.shape[1]) if len(s))


def pack_tables(tables: list[np.ndarray]) -> bytes:
    """Frequency tables as one block: u32 length + zlib(concatenated pmf_to_bytes)."""
    z = zlib.compress(b"".join(pmf_to_bytes(f) for f in tables), 9)
    return struct.pack("<I", len(z)) + z


def read_table_block(data: bytes, what: str) -> tuple[bytes, int]:
    """Inflate a pack_tables block at the start of `data` (length checked first, output
    capped at 64 MiB); returns (raw table bytes, bytes consumed)."""
    if len(data) < 4:
        raise CorruptStreamError(f"{what}: table header truncated")
    (zlen,) = struct.unpack_from("<I", data, 0)
    if zlen > len(data) - 4:
        raise CorruptStreamError(f"{what}: table block length {zlen} exceeds the {len(data) - 4} bytes left")
    d = zlib.decompressobj()
    try:
        raw = d.decompress(data[4 : 4 + zlen], 64 << 20)
    except zlib.error as e:
        raise CorruptStreamError(f"{what}: table block does not decompress ({e})") from None
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise CorruptStreamError(f"{what}: table block is truncated or too large")
    return raw, 4 + zlen


def read_tables(data: bytes, count: int, what: str) -> tuple[list[np.ndarray], int]:
    """Parse exactly `count` tables from a pack_tables block; returns (tables, consumed)."""
    raw, used = read_table_block(data, what)
    tables, off = [], 0
    for _ in range(count):
        f, off = pmf_from_bytes(raw, off)
        tables.append(f)
    if off != len(raw):
        raise CorruptStreamError(f"{what}: {len(raw) - off} stray bytes after the tables")
    return tables, used


def decode_channels(data: bytes, n: int) -> np.ndarray:
    """Inverse of encode_channels: int32 [n, C]."""
    if len(data) < 4:
        raise CorruptStreamError("channels: header truncated")
    (c,) = struct.unpack_from("<I", data, 0)
    if c > 4096:
        raise CorruptStreamError(f"channels: {c} channels is beyond the limit of 4096")
    tables, off = read_tables(data[4:], c, "channels")
    coder = coder_from_bytes(data[4 + off :], "channels")
    cols = decode_groups(coder, [(n, f) for f in tables], "channels")
    finish_decoding(coder, "channels")
    return np.stack(cols, 1).astype(np.int32) if c else np.zeros((n, 0), np.int32)


# ---- Bernoulli bits ----------------------------------------------------------------------
def bit_freqs(p: float) -> np.ndarray:
    if not np.isfinite(p):
        raise InputError(f"bit probability must be finite, got {p}")
    f1 = int(np.clip(round(float(p) * 65536), 1, 65535))
    return np.array([65536 - f1, f1], np.uint32)


def encode_bits(bits, p: float) -> bytes:
    """Bits with P(1)=p (quantized to 16 bits; the caller transmits p, e.g. as float32)."""
    b = _int_symbols(bits, "bits")
    if b.size and (b.min() < 0 or b.max() > 1):
        raise InputError("bits must be 0 or 1")
    return encode_categorical(b, bit_freqs(p))


def decode_bits(data: bytes, p: float, n: int) -> np.ndarray:
    return decode_categorical(data, bit_freqs(p), n).astype(np.uint8)


def estimate_bits_bits(bits, p: float) -> float:
    return estimate_bits_categorical(bits, bit_freqs(p))


# ---- quantized Gaussians -----------------------------------------------------------------
def _gauss_params(means, stds, n: int, lo: int, hi: int):
    m = np.asarray(means, dtype=np.float64).reshape(-1)
    s = np.asarray(stds, dtype=np.float64).reshape(-1)
    if m.size != n or s.size != n:
        raise InputError(f"need {n} means and stds, got {m.size} and {s.size}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise InputError("Gaussian means/stds contain NaN or Inf")
    m = np.clip(np.round(m * GRID) / GRID, lo - 2, hi + 2)
    s = np.clip(np.round(s * GRID) / GRID, STD_MIN, STD_MAX)
    return m, s


def _check_range(lo: int, hi: int) -> None:
    if not (-(2**30) <= int(lo) <= int(hi) <= 2**30):
        raise InputError(f"Gaussian symbol range [{lo}, {hi}] is invalid")


FAMILIES = ("gaussian", "laplace", "gaussian-mixture")  # quantized distributions the coder understands


def _mixture(family: str, weights):
    """The mixture module when `family` is the mixture (weights required), else None."""
    if family != "gaussian-mixture":
        if weights is not None:
            raise InputError(f"{family}: takes no mixture weights")
        return None
    if weights is None:
        raise InputError("gaussian-mixture needs weights")
    from gscodec.coding import mixture
    return mixture


def _family_model(family: str, lo: int, hi: int):
    if family == "gaussian":
        return _model.QuantizedGaussian(int(lo) - 1, int(hi) + 1)
    if family == "laplace":
        return _model.QuantizedLaplace(int(lo) - 1, int(hi) + 1)
    raise InputError(f"unknown distribution family {family!r}; the coder knows {FAMILIES}")


def encode_quantized(family: str, symbols, means, scales, lo: int, hi: int, weights=None) -> bytes:
    """Per-symbol quantized `family` distributions (mean, scale per symbol) on [lo, hi];
    outliers escape to lo-1/hi+1 and their raw int32 values are appended. Layout: u32 word
    count, words, raw outliers. The Laplace scale is its `b` (variance 2 b^2). The mixture
    takes [n, M] weights, means and scales (gscodec.coding.mixture)."""
    if (mix := _mixture(family, weights)) is not None:
        return mix.encode_mixture(symbols, weights, means, scales, lo, hi)
    _check_range(lo, hi)
    model = _family_model(family, lo, hi)
    s = _int_symbols(symbols)
    m, sd = _gauss_params(means, scales, s.size, lo, hi)
    if s.size and (s.min() < -(2**31) or s.max() >= 2**31):
        raise InputError("symbols must fit in int32")
    coded = np.clip(s, lo - 1, hi + 1).astype(np.int32)
    coder = _stack.AnsCoder()
    if s.size:
        coder.encode_reverse(coded, model, m, sd)
    return escape_payload(coder.get_compressed(), s[(s < lo) | (s > hi)])


def escape_payload(words, escaped) -> bytes:
    """The layout of the per-symbol coders (quantized families, mixture): u32 word count, the
    ANS words, then the escaped symbols' raw int32 values."""
    return struct.pack("<I", len(words)) + words_to_bytes(words) + np.asarray(escaped).astype("<i4").tobytes()


def open_escape_payload(data: bytes, what: str):
    """Inverse of escape_payload's framing: (the ANS coder over the words, the raw tail)."""
    if len(data) < 4:
        raise CorruptStreamError(f"{what}: header truncated")
    (nw,) = struct.unpack_from("<I", data, 0)
    if 4 + 4 * nw > len(data):
        raise CorruptStreamError(f"{what}: {nw} words declared, only {len(data) - 4} bytes present")
    return coder_from_bytes(data[4 : 4 + 4 * nw], what), data[4 + 4 * nw :]


def decode_quantized(family: str, data: bytes, means, scales, lo: int, hi: int, weights=None) -> np.ndarray:
    """Inverse of encode_quantized; n = len(means)."""
    if (mix := _mixture(family, weights)) is not None:
        return mix.decode_mixture(data, weights, means, scales, lo, hi)
    _check_range(lo, hi)
    model = _family_model(family, lo, hi)
    n = np.asarray(means).size
    m, sd = _gauss_params(means, scales, n, lo, hi)
    coder, raw = open_escape_payload(data, family)
    out = np.zeros(0, np.int32)
    if n:
        out = np.asarray(_guard(family, coder.decode, model, m, sd), np.int32)
    finish_decoding(coder, family)
    esc = np.flatnonzero((out < lo) | (out > hi))
    if len(raw) != 4 * len(esc):
        raise CorruptStreamError(f"{family}: {len(esc)} escaped symbols need {4 * len(esc)} raw bytes, found {len(raw)}")
    vals = np.frombuffer(raw, "<i4").astype(np.int32)
    if np.any(((vals < lo) & (out[esc] != lo - 1)) | ((vals > hi) & (out[esc] != hi + 1)) | ((vals >= lo) & (vals <= hi))):
        raise CorruptStreamError(f"{family}: escaped value inconsistent with its escape symbol")
    out = out.copy()
    out[esc] = vals
    return out


def _cdf(family: str, x: np.ndarray) -> np.ndarray:
    """Standardized CDF of the family ((x - mean) / scale already applied)."""
    from scipy.special import ndtr

    if family == "gaussian":
        return ndtr(x)
    return np.where(x < 0, 0.5 * np.exp(np.minimum(x, 0)), 1 - 0.5 * np.exp(-np.maximum(x, 0)))


def estimate_bits_quantized(family: str, symbols, means, scales, lo: int, hi: int, weights=None) -> float:
    """Model bits (continuous-CDF approximation of constriction's quantized model: the tails
    are folded into the two edge bins, i.e. the escape symbols) plus 32 bits per escaped
    outlier. For the mixture: the coder's exact cost."""
    if (mix := _mixture(family, weights)) is not None:
        return mix.estimate_bits_mixture(symbols, weights, means, scales, lo, hi)
    _check_range(lo, hi)
    _family_model(family, lo, hi)
    s = _int_symbols(symbols)
    m, sd = _gauss_params(means, scales, s.size, lo, hi)
    c = np.clip(s, lo - 1, hi + 1).astype(np.float64)
    upper = np.where(c >= hi + 1, np.inf, c + 0.5)
    lower = np.where(c <= lo - 1, -np.inf, c - 0.5)
    # mass of a bin as a difference of whichever tail is smaller (keeps far tails accurate)
    mass = np.where(lower + upper > 2 * m, _cdf(family, (m - lower) / sd) - _cdf(family, (m - upper) / sd),
                    _cdf(family, (upper - m) / sd) - _cdf(family, (lower - m) / sd))
    p = np.maximum(mass, TAIL_FLOOR)
    return float(-np.log2(p).sum() + 32 * np.count_nonzero(c != s))


def encode_gaussian(symbols, means, stds, lo: int, hi: int) -> bytes:
    return encode_quantized("gaussian", symbols, means, stds, lo, hi)


def decode_gaussian(data: bytes, means, stds, lo: int, hi: int) -> np.ndarray:
    return decode_quantized("gaussian", data, means, stds, lo, hi)


def estimate_bits_gaussian(symbols, means, stds, lo: int, hi: int) -> float:
    return estimate_bits_quantized("gaussian", symbols, means, stds, lo, hi)
