"""Quantized Gaussian mixtures for the ANS coder (the third member of ans.FAMILIES).

Why not constriction's QuantizedGaussian: it has one component. A mixture is coded with
constriction's batched Categorical instead: for every symbol a pmf over one window of
integers [a, b] shared by the unit, plus two escape bins that carry the mixture's mass
below a and above b (the value of an escaped symbol follows the words as raw int32, as in
ans.encode_quantized). Each bin is floored at ans.TAIL_FLOOR, the same floor the training
likelihood uses (gscodec.entropy.gaussian), so rare symbols cost what the estimate says.

Determinism: weights, means and scales are snapped to multiples of 2^-16 before anything
is computed, the pmf is a fixed sequence of float64 numpy/scipy operations, and
constriction quantizes it to 24-bit integers with its deterministic "leaky" rule, which
`estimate_bits_mixture` replicates: the estimate is the coder's exact cost.
"""
from __future__ import annotations

import numpy as np

from gscodec.coding import ans
from gscodec.errors import CorruptStreamError, InputError

TAIL_SIGMAS = 12.0  # the window reaches this many scales past the outermost component
MAX_HALF_WINDOW = 4096  # beyond that, symbols escape (their mass is in the escape bins)
_CHUNK = 1 << 21  # floats per block of pmf rows (memory bound)


def _params(weights, means, scales, n: int, lo: int, hi: int):
    """Snapped float64 [n, M] arrays; weights normalized per row."""
    w, m, s = (np.asarray(a, dtype=np.float64) for a in (weights, means, scales))
    if not (w.shape == m.shape == s.shape) or w.ndim != 2 or w.shape[0] != n or w.shape[1] < 1:
        raise InputError(f"mixture needs [{n}, M] weights, means and scales, got {w.shape}, {m.shape}, {s.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise InputError("mixture weights/means/scales contain NaN or Inf")
    if np.any(w < 0):
        raise InputError("mixture weights must be non-negative")
    w = np.round(w * ans.GRID) / ans.GRID
    tot = w.sum(1, keepdims=True)
    w = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / w.shape[1])
    m = np.clip(np.round(m * ans.GRID) / ans.GRID, lo - 2, hi + 2)
    s = np.clip(np.round(s * ans.GRID) / ans.GRID, ans.STD_MIN, ans.STD_MAX)
    return w, m, s


def window(means: np.ndarray, scales: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """[a, b]: the integers the pmf rows cover (inside [lo, hi], at most 2*MAX_HALF_WINDOW+1)."""
    if means.size == 0:
        return lo, lo
    a = max(lo, int(np.floor((means - TAIL_SIGMAS * scales).min())), -MAX_HALF_WINDOW)
    b = min(hi, int(np.ceil((means + TAIL_SIGMAS * scales).max())), MAX_HALF_WINDOW)
    return (a, b) if a <= b else (lo, lo)


def _rows(w, m, s, a: int, b: int) -> np.ndarray:
    """pmf rows [n, b-a+3]: escape-below, bins a..b, escape-above; floored and normalized."""
    from scipy.special import ndtr

    edges = np.arange(a, b + 2, dtype=np.float64) - 0.5  # b-a+2 bin edges
    cdf = (w[:, None, :] * ndtr((edges[None, :, None] - m[:, None, :]) / s[:, None, :])).sum(-1)
    p = np.concatenate([cdf[:, :1], np.diff(cdf, axis=1), 1.0 - cdf[:, -1:]], axis=1)
    p = np.maximum(p, ans.TAIL_FLOOR)
    return p / p.sum(1, keepdims=True)


def _blocks(n: int, width: int, comps: int):
    step = max(1, _CHUNK // max(1, width * comps))
    for i in range(0, n, step):
        yield slice(i, min(n, i + step))


def _index(s: np.ndarray, a: int, b: int) -> np.ndarray:
    return (np.clip(s, a - 1, b + 1) - (a - 1)).astype(np.int32)


def encode_mixture(symbols, weights, means, scales, lo: int, hi: int) -> bytes:
    """Symbols in [lo, hi] (integers; others are refused) under per-symbol mixtures given as
    [n, M] weights, means, scales (unit grid). Layout: u32 word count, words, raw escapes."""
    ans._check_range(lo, hi)
    s = ans._int_symbols(symbols)
    if s.size and (s.min() < lo or s.max() > hi):
        raise InputError(f"mixture symbols outside their declared range [{lo}, {hi}]")
    w, m, sd = _params(weights, means, scales, s.size, lo, hi)
    a, b = window(m, sd, lo, hi)
    idx = _index(s, a, b)
    coder = ans.new_coder()
    model = ans._model.Categorical(perfect=False)
    for blk in reversed(list(_blocks(s.size, b - a + 3, w.shape[1]))):  # ANS is a stack: last block first
        coder.encode_reverse(idx[blk], model, _rows(w[blk], m[blk], sd[blk], a, b))
    return ans.escape_payload(coder.get_compressed(), s[(s < a) | (s > b)])


def decode_mixture(data: bytes, weights, means, scales, lo: int, hi: int) -> np.ndarray:
    """Inverse of encode_mixture; n = len(weights)."""
    ans._check_range(lo, hi)
    n = np.asarray(weights).shape[0] if np.ndim(weights) == 2 else -1
    w, m, sd = _params(weights, means, scales, n, lo, hi)
    a, b = window(m, sd, lo, hi)
    coder, raw = ans.open_escape_payload(data, "mixture")
    model = ans._model.Categorical(perfect=False)
    parts = [np.asarray(ans._guard("mixture", coder.decode, model, _rows(w[blk], m[blk], sd[blk], a, b)), np.int64)
             for blk in _blocks(n, b - a + 3, w.shape[1])]
    ans.finish_decoding(coder, "mixture")
    out = (np.concatenate(parts) if parts else np.zeros(0, np.int64)) + (a - 1)
    esc = np.flatnonzero((out < a) | (out > b))
    if len(raw) != 4 * len(esc):
        raise CorruptStreamError(f"mixture: {len(esc)} escaped symbols need {4 * len(esc)} raw bytes, found {len(raw)}")
    vals = np.frombuffer(raw, "<i4").astype(np.int64)
    below = out[esc] < a
    if np.any(below & ((vals >= a) | (vals < lo))) or np.any(~below & ((vals <= b) | (vals > hi))):
        raise CorruptStreamError("mixture: escaped value inconsistent with its escape bin or range")
    out[esc] = vals
    return out


def _leaky_cost(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """-log2 of the 24-bit probability constriction's Categorical(perfect=False) gives the
    chosen bin of each row."""
    return ans.PRECISION - np.log2(ans.leaky_freqs(rows)[np.arange(len(rows)), idx])


def estimate_bits_mixture(symbols, weights, means, scales, lo: int, hi: int) -> float:
    """The coder's exact cost of encode_mixture (bits), escapes' 32 raw bits included."""
    ans._check_range(lo, hi)
    s = ans._int_symbols(symbols)
    w, m, sd = _params(weights, means, scales, s.size, lo, hi)
    a, b = window(m, sd, lo, hi)
    idx = _index(s, a, b)
    bits = sum(float(_leaky_cost(_rows(w[blk], m[blk], sd[blk], a, b), idx[blk]).sum())
               for blk in _blocks(s.size, b - a + 3, w.shape[1]))
    return bits + 32.0 * np.count_nonzero((s < a) | (s > b))


__all__ = ["decode_mixture", "encode_mixture", "estimate_bits_mixture", "window"]
