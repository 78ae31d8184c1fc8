"""3D-to-2D sorting: lay N per-Gaussian vectors out on a 2-D grid so neighbours are similar.

A PLAS-style self-organising sort (Parallel Linear Assignment Sorting, Morgenstern et al. 2023):
at decreasing radii r, blur the grid (box filter of half-width r -> the "target"), then split the
grid into random tiles of about 2r x 2r, draw random groups of 4 cells inside each tile and give
each group the best of the 24 permutations of its items onto its cells (the one that brings the
items closest to the target there). Since each target is used once, ||x||^2 and ||t||^2 are the
same for every permutation, so the cost is just -sum x_i . t_p(i). The inner loops are numba
(parallel over groups, which are disjoint; compiled once, then cached in __pycache__), and large
blur radii are computed on a block-averaged grid; see bench/results/sort_kmeans.md for timings.

Layout (how padding works): the grid is `side` = ceil(sqrt(N)) cells wide and
rows = ceil(N / side) high. Item order[k] sits at raster cell k (row k // side, col k % side);
the rows*side - N cells after the last item are padding and never move. So `order` is a plain
permutation of range(N): the encoder writes attribute[order] in raster order (padding the tail of
the last row, e.g. by repeating the last value) and the decoder reads the first N pixels.
"""
from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import torch
from numba import njit, prange

from gscodec.errors import InputError

_PERMS = np.array(list(permutations(range(4))), dtype=np.int64)  # [24, 4], identity first


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, side) of the grid holding n items: side = ceil(sqrt(n)), rows = ceil(n / side)."""
    side = max(1, math.isqrt(max(n - 1, 0)) + 1) if n > 0 else 1
    return max(1, -(-n // side)), side


@njit(cache=True, parallel=True)
def _box_blur(x, w, r):  # pragma: no cover - numba
    """Weighted box blur of x [H,W,D] (weights w [H,W], 0 on padding), half-width r.
    Separable sliding-window sums in float64, both passes walking memory contiguously."""
    h, wd, dd = x.shape
    num = np.empty((h, wd, dd + 1), np.float64)  # last channel carries the weight sum
    for i in prange(h):
        acc = np.zeros(dd + 1, np.float64)
        for j in range(min(r, wd)):
            for d in range(dd):
                acc[d] += x[i, j, d] * w[i, j]
            acc[dd] += w[i, j]
        for j in range(wd):
            if j + r < wd:
                for d in range(dd):
                    acc[d] += x[i, j + r, d] * w[i, j + r]
                acc[dd] += w[i, j + r]
            if j - r - 1 >= 0:
                for d in range(dd):
                    acc[d] -= x[i, j - r - 1, d] * w[i, j - r - 1]
                acc[dd] -= w[i, j - r - 1]
            num[i, j, :] = acc
    out = np.empty((h, wd, dd), np.float32)
    nb = 8  # column blocks, so the vertical pass parallelises and still reads rows contiguously
    step = (wd + nb - 1) // nb
    for b in prange(nb):
        j0, j1 = b * step, min(wd, (b + 1) * step)
        if j0 >= j1:
            continue
        acc = np.zeros((j1 - j0, dd + 1), np.float64)
        for i in range(min(r, h)):
            acc += num[i, j0:j1]
        for i in range(h):
            if i + r < h:
                acc += num[i + r, j0:j1]
            if i - r - 1 >= 0:
                acc -= num[i - r - 1, j0:j1]
            for j in range(j1 - j0):
                s = max(acc[j, dd], 1e-12)
                for d in range(dd):
                    out[i, j0 + j, d] = acc[j, d] / s
    return out


def _target(gf: np.ndarray, wgt: np.ndarray, r: int) -> np.ndarray:
    """Blurred grid [H*W,D]. Large radii blur a block-averaged grid (factor s, keeping >= 4 coarse
    cells of radius) and upsample by repetition: same target scale at ~1/s^2 of the cost."""
    h, w = wgt.shape
    s = 1
    while r // (2 * s) >= 4:
        s *= 2
    if s == 1:
        return _box_blur(gf.reshape(h, w, -1), wgt, r).reshape(h * w, -1)
    hh, ww, dd = -(-h // s) * s, -(-w // s) * s, gf.shape[1]
    x = np.zeros((hh, ww, dd), np.float32)
    x[:h, :w] = gf.reshape(h, w, dd) * wgt[..., None]
    wp = np.zeros((hh, ww), np.float32)
    wp[:h, :w] = wgt
    xs = x.reshape(hh // s, s, ww // s, s, dd).sum((1, 3))
    ws = wp.reshape(hh // s, s, ww // s, s).sum((1, 3))
    xm = (xs / np.maximum(ws, 1e-12)[..., None]).astype(np.float32)
    t = _box_blur(xm, ws, max(1, round(r / s)))
    return np.ascontiguousarray(t.repeat(s, 0).repeat(s, 1)[:h, :w]).reshape(h * w, dd)


def _groups(h: int, w: int, b: int, rng: np.random.Generator) -> np.ndarray | None:
    """Random groups of 4 flat cell indices, each inside one tile of about b x b cells."""
    by, bx = min(b, h), min(b, w)
    if by * bx < 4:
        bx = min(w, 4)
    if by * bx < 4:
        return None
    oy = int(rng.integers(0, min(by, h - by + 1)))
    ox = int(rng.integers(0, min(bx, w - bx + 1)))
    nty, ntx = (h - oy) // by, (w - ox) // bx
    cells = np.arange(h * w, dtype=np.int64).reshape(h, w)[oy : oy + nty * by, ox : ox + ntx * bx]
    cells = cells.reshape(nty, by, ntx, bx).transpose(0, 2, 1, 3).reshape(nty * ntx, by * bx)
    k = by * bx // 4 * 4
    cells = cells[:, rng.permutation(by * bx)[:k]]  # one shuffle shared by all tiles
    return np.ascontiguousarray(cells.reshape(-1, 4))


@njit(cache=True, parallel=True, fastmath=True)
def _pass(idx, gf, target, movable, groups, perms):  # pragma: no cover - numba
    """One assignment step over `groups` [G,4]: each group takes the best of the 24 permutations
    of its items onto its cells. idx (cell -> item) and gf (cell -> features, kept in grid order
    for memory locality) are updated in place; groups are disjoint, so the loop is parallel."""
    dd = gf.shape[1]
    for g in prange(groups.shape[0]):
        c = np.empty((4, 4), np.float32)
        for i in range(4):
            for j in range(4):
                s = np.float32(0.0)
                for d in range(dd):
                    s -= gf[groups[g, i], d] * target[groups[g, j], d]
                c[i, j] = s
        for i in range(4):
            if not movable[groups[g, i]]:  # padding stays on its own cell
                for j in range(4):
                    if j != i:
                        c[i, j] = np.float32(1e30)
        best, bc = 0, c[0, 0] + c[1, 1] + c[2, 2] + c[3, 3]
        for p in range(1, perms.shape[0]):  # perms[0] is the identity: ties keep the layout
            s = c[0, perms[p, 0]] + c[1, perms[p, 1]] + c[2, perms[p, 2]] + c[3, perms[p, 3]]
            if s < bc:
                best, bc = p, s
        if best == 0:
            continue
        items = np.empty(4, np.int64)
        rows = np.empty((4, dd), np.float32)
        for i in range(4):
            items[i] = idx[groups[g, i]]
            rows[i] = gf[groups[g, i]]
        for i in range(4):
            dst = groups[g, perms[best, i]]
            idx[dst] = items[i]
            gf[dst] = rows[i]


def sort_into_grid(
    features: np.ndarray | torch.Tensor,
    seed: int = 0,
    *,
    init_order: np.ndarray | torch.Tensor | None = None,
    start_radius: float | None = None,
    min_radius: float = 1.0,
    radius_decay: float = 0.95,
    passes: int = 4,
    final_passes: int = 6,
    standardize: bool = True,
) -> tuple[np.ndarray, int]:
    """Sort rows of `features` [N,D] onto a grid `side` wide; return (order [N] int64, side).

    order[k] is the item placed at raster cell k (see the module docstring for the padding
    layout). `init_order` (a permutation, e.g. from `morton_grid_order`) replaces the random
    start; with a good start a smaller `start_radius` saves time. Columns are z-scored first
    unless `standardize=False`. Deterministic for a given seed.
    """
    x = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if x.ndim != 2:
        raise InputError(f"features must be [N,D], got shape {list(x.shape)}")
    x = x.astype(np.float32)
    n = x.shape[0]
    if n == 0:
        raise InputError("cannot sort zero items")
    if not np.isfinite(x).all():
        raise InputError("features contain NaN or Inf")
    h, w = grid_shape(n)
    rng = np.random.default_rng(int(seed))
    if init_order is None:
        order = rng.permutation(n).astype(np.int64)
    else:
        order = np.array(init_order.cpu() if isinstance(init_order, torch.Tensor) else init_order, dtype=np.int64)
        if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
            raise InputError(f"init_order must be a permutation of range({n})")
    if n < 4:
        return order, w
    if standardize:
        x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-8)
    # padding items (ids n..h*w-1, zero features) occupy the tail cells and are never moved
    feats = np.concatenate([x, np.zeros((h * w - n, x.shape[1]), np.float32)])
    idx = np.concatenate([order, np.arange(n, h * w, dtype=np.int64)])
    gf = np.ascontiguousarray(feats[idx])  # features in cell order, moved along with idx
    movable = np.arange(h * w) < n
    wgt = movable.astype(np.float32).reshape(h, w)
    r = float(start_radius) if start_radius is not None else max(h, w) / 2.0
    while True:
        last = r <= min_radius
        ri = max(1, int(round(r)))
        target = _target(gf, wgt, ri)
        for _ in range(final_passes if last else passes):
            g = _groups(h, w, max(2, 2 * ri), rng)
            if g is None:
                break
            _pass(idx, gf, target, movable, g, _PERMS)
        if last:
            break
        r = max(min_radius, r * radius_decay)
    return idx[:n].copy(), w


def morton_grid_order(positions: np.ndarray | torch.Tensor, bits: int = 10) -> tuple[np.ndarray, int]:
    """Cheap baseline/initialisation: 3-D Morton order of positions laid along a 2-D Z-curve
    over the grid's cells, so 3-D neighbours tend to be 2-D neighbours. Returns (order, side)."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) == 0:
        raise InputError(f"positions must be a non-empty [N,3] array, got shape {list(p.shape)}")
    n = len(p)
    lo, hi = p.min(0), p.max(0)
    q = ((p - lo) / np.where(hi > lo, hi - lo, 1.0) * ((1 << bits) - 1)).astype(np.uint64)
    code3 = np.zeros(n, dtype=np.uint64)
    for b in range(bits):
        for a in range(3):
            code3 |= ((q[:, a] >> np.uint64(b)) & np.uint64(1)) << np.uint64(3 * b + a)
    items = np.argsort(code3, kind="stable")
    h, w = grid_shape(n)
    rr, cc = np.divmod(np.arange(n, dtype=np.uint64), np.uint64(w))
    code2 = np.zeros(n, dtype=np.uint64)
    for b in range(max(h, w).bit_length()):
        code2 |= ((rr >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
        code2 |= ((cc >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
    cells = np.argsort(code2, kind="stable")  # the n real cells in Z-curve visiting order
    order = np.empty(n, dtype=np.int64)
    order[cells] = items
    return order, w


def to_grid(values: np.ndarray, order: np.ndarray, side: int) -> np.ndarray:
    """values [N,...] -> image [rows, side, ...] in grid order; padding repeats the last item."""
    v = np.asarray(values)[np.asarray(order)]
    rows = -(-len(v) // side)
    pad = rows * side - len(v)
    if pad:
        v = np.concatenate([v, np.repeat(v[-1:], pad, axis=0)])
    return v.reshape(rows, side, *v.shape[1:])


def from_grid(image: np.ndarray, n: int) -> np.ndarray:
    """Inverse of to_grid's layout: the first n cells in raster order (still in grid order)."""
    img = np.asarray(image)
    return img.reshape(img.shape[0] * img.shape[1], *img.shape[2:])[:n]


def neighbour_distance(features: np.ndarray | torch.Tensor, order: np.ndarray, side: int) -> float:
    """Mean L2 distance between horizontally and vertically adjacent real cells (lower = smoother)."""
    x = np.asarray(features, dtype=np.float32)[np.asarray(order)]
    n = len(x)
    rows = -(-n // side)
    g = np.full((rows * side, x.shape[1]), np.nan, dtype=np.float32)
    g[:n] = x
    g = g.reshape(rows, side, -1)
    d = [np.linalg.norm(g[:, 1:] - g[:, :-1], axis=-1), np.linalg.norm(g[1:] - g[:-1], axis=-1)]
    vals = np.concatenate([a.reshape(-1) for a in d])
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if len(vals) else 0.0


__all__ = ["sort_into_grid", "morton_grid_order", "grid_shape", "to_grid", "from_grid", "neighbour_distance"]
