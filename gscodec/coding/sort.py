"""3D-to-2D sorting: lay N per-Gaussian vectors out on a 2-D grid so neighbours are similar.

A PLAS-style self-organising sort (Parallel Linear Assignment Sorting, Morgenstern et al. 2023):
at decreasing radii r, blur the grid (box filter of half-width r -> the "target"), then split the
grid into random tiles of about 2r x 2r, draw random groups of 4 cells inside each tile and give
each group the best of the 24 permutations of its items onto its cells (the one that brings the
items closest to the target there). Since each target is used once, ||x||^2 and ||t||^2 are the
same for every permutation, so the cost is just -sum x_i . t_p(i). Everything is batched torch.

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

from gscodec.errors import InputError

_PERMS = torch.tensor(list(permutations(range(4))), dtype=torch.int64)  # [24, 4]
_PERM_FLAT = (torch.arange(4) * 4 + _PERMS).reshape(-1)  # C[i, p(i)] as a flat 4x4 index, [96]


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, side) of the grid holding n items: side = ceil(sqrt(n)), rows = ceil(n / side)."""
    side = max(1, math.isqrt(max(n - 1, 0)) + 1) if n > 0 else 1
    return max(1, -(-n // side)), side


def _box_blur(x: torch.Tensor, w: torch.Tensor, r: int) -> torch.Tensor:
    """Weighted box blur of x [H,W,D] (weights w [H,W], 0 on padding), half-width r, via cumsums."""

    def along(a: torch.Tensor, dim: int) -> torch.Tensor:
        n = a.shape[dim]
        cs = torch.cumsum(a, dim)
        cs = torch.cat([torch.zeros_like(cs.narrow(dim, 0, 1)), cs], dim)
        i = torch.arange(n)
        hi, lo = (i + r + 1).clamp(max=n), (i - r).clamp(min=0)
        return cs.index_select(dim, hi) - cs.index_select(dim, lo)

    num = along(along(x * w[..., None], 0), 1)
    den = along(along(w, 0), 1)
    return num / den.clamp_min(1e-12)[..., None]


def _groups(h: int, w: int, b: int, gen: torch.Generator) -> torch.Tensor | None:
    """Random groups of 4 flat cell indices, each inside one tile of about b x b cells."""
    by, bx = min(b, h), min(b, w)
    if by * bx < 4:
        bx = min(w, 4)
    if by * bx < 4:
        return None
    oy = int(torch.randint(0, min(by, h - by + 1), (1,), generator=gen))
    ox = int(torch.randint(0, min(bx, w - bx + 1), (1,), generator=gen))
    nty, ntx = (h - oy) // by, (w - ox) // bx
    cells = torch.arange(h * w).reshape(h, w)[oy : oy + nty * by, ox : ox + ntx * bx]
    cells = cells.reshape(nty, by, ntx, bx).permute(0, 2, 1, 3).reshape(nty * ntx, by * bx)
    k = by * bx // 4 * 4
    cells = cells[:, torch.randperm(by * bx, generator=gen)[:k]]  # one shuffle shared by all tiles
    return cells.reshape(-1, 4)


def _pass(idx: torch.Tensor, feats: torch.Tensor, target: torch.Tensor, movable: torch.Tensor, groups: torch.Tensor) -> None:
    """One batched assignment step over `groups` [G,4]; updates idx (flat grid -> item) in place."""
    items = idx[groups]  # [G,4]
    f = feats[items]  # [G,4,D]
    t = target[groups]  # [G,4,D]
    c = torch.empty(groups.shape[0], 4, 4)
    ar = torch.arange(4)
    for s in range(4):  # C[g, i, (i+s)%4] = -f_i . t_(i+s)
        c[:, ar, (ar + s) % 4] = -(f * t.roll(-s, dims=1)).sum(-1)
    fixed = ~movable[groups]  # padding cells keep their (padding) item
    if fixed.any():
        off_diag = ~torch.eye(4, dtype=torch.bool)
        c.masked_fill_(fixed[:, :, None] & off_diag, 1e30)
    cost = c.reshape(-1, 16)[:, _PERM_FLAT].reshape(-1, 24, 4).sum(-1)
    best = cost.argmin(1)  # identity is permutation 0, so ties keep the current layout
    dest = groups.gather(1, _PERMS[best])  # item i of the group moves to cell dest[:, i]
    idx[dest.reshape(-1)] = items.reshape(-1)


def sort_into_grid(
    features: np.ndarray | torch.Tensor,
    seed: int = 0,
    *,
    init_order: np.ndarray | torch.Tensor | None = None,
    start_radius: float | None = None,
    min_radius: float = 1.0,
    radius_decay: float = 0.9,
    passes: int = 2,
    final_passes: int = 6,
    standardize: bool = True,
) -> tuple[np.ndarray, int]:
    """Sort rows of `features` [N,D] onto a grid `side` wide; return (order [N] int64, side).

    order[k] is the item placed at raster cell k (see the module docstring for the padding
    layout). `init_order` (a permutation, e.g. from `morton_grid_order`) replaces the random
    start; with a good start a smaller `start_radius` saves time. Columns are z-scored first
    unless `standardize=False`. Deterministic for a given seed.
    """
    x = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    if x.ndim != 2:
        raise InputError(f"features must be [N,D], got shape {list(x.shape)}")
    x = x.detach().to("cpu", torch.float32)
    n = x.shape[0]
    if n == 0:
        raise InputError("cannot sort zero items")
    if not torch.isfinite(x).all():
        raise InputError("features contain NaN or Inf")
    h, w = grid_shape(n)
    gen = torch.Generator().manual_seed(int(seed))
    if init_order is None:
        order = torch.randperm(n, generator=gen)
    else:
        order = torch.as_tensor(np.asarray(init_order), dtype=torch.int64).clone()
        if order.shape != (n,) or not torch.equal(torch.sort(order).values, torch.arange(n)):
            raise InputError(f"init_order must be a permutation of range({n})")
    if n < 4:
        return order.numpy(), w
    if standardize:
        x = (x - x.mean(0)) / x.std(0).clamp_min(1e-8)
    # padding items (ids n..h*w-1, zero features) occupy the tail cells and are never moved
    feats = torch.cat([x, torch.zeros(h * w - n, x.shape[1])])
    idx = torch.cat([order, torch.arange(n, h * w)])
    movable = torch.arange(h * w) < n
    wgt = movable.float().reshape(h, w)
    r = float(start_radius) if start_radius is not None else max(h, w) / 2.0
    while True:
        last = r <= min_radius
        ri = max(1, int(round(r)))
        target = _box_blur(feats[idx].reshape(h, w, -1), wgt, ri).reshape(h * w, -1)
        for _ in range(final_passes if last else passes):
            g = _groups(h, w, max(2, 2 * ri), gen)
            if g is None:
                break
            _pass(idx, feats, target, movable, g)
        if last:
            break
        r = max(min_radius, r * radius_decay)
    return idx[:n].numpy().astype(np.int64), w


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
