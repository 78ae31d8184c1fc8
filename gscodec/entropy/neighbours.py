"""Voxel indices, coding passes and adaptive context selection (ACS) for autoregressive
anchor entropy models (HEMGS, paper 001, Sec. 3.3.3).

Why here and exact: encoder and decoder must pick the same neighbours, so everything is
computed on integer voxel coordinates (differences, squared distances, comparisons are exact
integers), ties are broken by anchor index, and the k-d tree (scipy) is only asked for
candidates, whose completeness is checked before any is chosen.

Passes: the paper codes anchors one by one in raster order, each seeing the already coded
anchors in a 25^3-voxel field. Decoding 100k anchors one by one in Python is far too slow,
so we decode in batches whose contexts are complete: the anchors in raster order are split
into 8 interleaved passes by voxel parity (pass = 4 (ix & 1) + 2 (iy & 1) + (iz & 1)), and an
anchor's context is the anchors of earlier passes in its field. Pass 0 (an eighth) has no
context; on average an anchor sees 7/16 of its field, about what strict raster order gives
(1/2). Training uses the same definition (teacher forcing with quantized neighbour values).
"""
from __future__ import annotations

import numpy as np

N_PASSES = 8
MAX_FIELD_NEIGHBOURS = 256  # "all in the field" (no ACS) is capped here: dense scenes hold ~600


def voxel_indices(xyz: np.ndarray, voxel: float) -> np.ndarray:
    """[N, 3] int64 voxel coordinates of positions, from their minimum (same arrays, same ints)."""
    x = np.asarray(xyz, np.float64).reshape(-1, 3)
    if not len(x):
        return np.zeros((0, 3), np.int64)
    return np.floor((x - x.min(0)) / float(voxel) + 0.5).astype(np.int64)


def coding_passes(vox: np.ndarray) -> np.ndarray:
    """[N] pass of each anchor (0..7) by voxel parity."""
    v = np.asarray(vox, np.int64)
    return (4 * (v[:, 0] & 1) + 2 * (v[:, 1] & 1) + (v[:, 2] & 1)).astype(np.int64)


def pass_rows(passes: np.ndarray) -> list[np.ndarray]:
    """Anchor indices of each pass, ascending (the coding order within a pass)."""
    return [np.flatnonzero(passes == p) for p in range(N_PASSES)]


def select_context(vox: np.ndarray, passes: np.ndarray, field: int = 25, n_max: int = 20) -> np.ndarray:
    """[N, K] indices of each anchor's context (-1 padded): anchors of earlier passes within
    the field (a cube of `field` voxels a side, centred on the anchor's voxel); all of them if
    there are at most n_max, otherwise the n_max nearest (squared voxel distance, then index).
    n_max 0: all in the field (capped at MAX_FIELD_NEIGHBOURS nearest)."""
    from scipy.spatial import cKDTree

    vox = np.asarray(vox, np.int64)
    n = len(vox)
    k = MAX_FIELD_NEIGHBOURS if n_max == 0 else int(n_max)
    out = np.full((n, k), -1, np.int64)
    half = (int(field) - 1) // 2
    for p in range(1, N_PASSES):
        rows = np.flatnonzero(passes == p)
        cand = np.flatnonzero(passes < p)
        if not len(rows) or not len(cand):
            continue
        tree = cKDTree(vox[cand].astype(np.float64))
        bound = half * np.sqrt(3.0) + 0.5  # the cube's corners; filtered to the cube below
        todo, q = rows, min(k + 8, len(cand))
        while len(todo):
            _, nb = tree.query(vox[todo].astype(np.float64), k=q, distance_upper_bound=bound)
            nb = np.asarray(nb).reshape(len(todo), q)
            valid = nb < len(cand)
            j = np.where(valid, cand[np.minimum(nb, len(cand) - 1)], -1)
            d = vox[np.maximum(j, 0)] - vox[todo][:, None, :]
            inside = valid & (np.abs(d).max(-1) <= half)
            d2 = np.where(inside, (d * d).sum(-1), np.iinfo(np.int64).max)
            jj = np.where(inside, j, np.iinfo(np.int64).max)
            order = np.lexsort((jj, d2), axis=1)
            d2s, js = np.take_along_axis(d2, order, 1), np.take_along_axis(jj, order, 1)
            # complete when the tree returned fewer than q (all within the bound) or the last
            # returned point is strictly farther than the k-th chosen one
            full = valid.all(1)
            raw_d2 = np.where(valid, (d * d).sum(-1), -1)
            kth = d2s[:, min(k, q) - 1]
            done = ~full | (raw_d2.max(1) > kth) | (q >= len(cand))
            take = min(k, q)
            sel = np.where(d2s[:, :take] < np.iinfo(np.int64).max, js[:, :take], -1)
            out[todo[done], :take] = sel[done]
            todo, q = todo[~done], min(2 * q, len(cand))
    return out


__all__ = ["MAX_FIELD_NEIGHBOURS", "N_PASSES", "coding_passes", "pass_rows", "select_context", "voxel_indices"]
