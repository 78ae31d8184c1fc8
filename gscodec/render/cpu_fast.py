"""Fast CPU tile rasterizer: numba kernels for intersection lists, forward and backward
compositing, wrapped in a torch.autograd.Function.

Layout follows gsplat: Gaussians are sorted by depth once, then bucketed per (camera, tile)
with a stable counting sort, so every tile list is front-to-back. Tiles run in parallel
(prange); the backward pass walks each pixel's list in reverse from the stored last
contributor with the stored final transmittance (standard 3DGS), writing gradients per
intersection (tile-private, no races) which are then summed per Gaussian with index_add_.
Memory is O(intersections + pixels), never Gaussians x pixels.
"""
from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from gscodec.render.cpu_reference import ALPHA_MAX, ALPHA_MIN, T_MIN


@njit(cache=True)
def _build_intersections(order, camera_ids, bbox, n_tiles_per_cam, tiles_x):
    """order: Gaussians (packed index) by increasing depth. Returns (offsets, flat_ids)."""
    n_keys = camera_ids.max() + 1 if camera_ids.size else 0
    counts = np.zeros(n_keys * n_tiles_per_cam + 1, np.int64)
    for g in range(order.size):
        x0, y0, x1, y1 = bbox[g, 0], bbox[g, 1], bbox[g, 2], bbox[g, 3]
        base = camera_ids[g] * n_tiles_per_cam
        for ty in range(y0, y1):
            for tx in range(x0, x1):
                counts[base + ty * tiles_x + tx + 1] += 1
    offsets = np.cumsum(counts)
    ptr = offsets[:-1].copy()
    flat = np.empty(offsets[-1], np.int32)
    for i in range(order.size):
        g = order[i]
        x0, y0, x1, y1 = bbox[g, 0], bbox[g, 1], bbox[g, 2], bbox[g, 3]
        base = camera_ids[g] * n_tiles_per_cam
        for ty in range(y0, y1):
            for tx in range(x0, x1):
                k = base + ty * tiles_x + tx
                flat[ptr[k]] = g
                ptr[k] += 1
    return offsets, flat


@njit(parallel=True, fastmath=False, cache=True)
def _forward(means2d, conics, colors, opac, bg, offsets, flat, n_cams, width, height, ts,
             tiles_x, tiles_y, out_col, out_t, out_last):
    D = colors.shape[1]
    n_tiles = tiles_x * tiles_y
    n_off = offsets.size - 1
    for job in prange(n_cams * n_tiles):
        cam = job // n_tiles
        tile = job % n_tiles
        ty, tx = tile // tiles_x, tile % tiles_x
        start = offsets[job] if job < n_off else 0
        end = offsets[job + 1] if job < n_off else 0
        n = end - start
        # tile-local contiguous copies for cache-friendly inner loops
        mx = np.empty(n, means2d.dtype)
        my = np.empty(n, means2d.dtype)
        ca = np.empty(n, means2d.dtype)
        cb = np.empty(n, means2d.dtype)
        cc = np.empty(n, means2d.dtype)
        op = np.empty(n, means2d.dtype)
        col = np.empty((n, D), means2d.dtype)
        for i in range(n):
            g = flat[start + i]
            mx[i] = means2d[g, 0]
            my[i] = means2d[g, 1]
            ca[i] = conics[g, 0]
            cb[i] = conics[g, 1]
            cc[i] = conics[g, 2]
            op[i] = opac[g]
            for d in range(D):
                col[i, d] = colors[g, d]
        acc = np.empty(D, means2d.dtype)
        for py in range(ty * ts, min((ty + 1) * ts, height)):
            for px in range(tx * ts, min((tx + 1) * ts, width)):
                fx = px + 0.5
                fy = py + 0.5
                T = 1.0
                last = 0
                for d in range(D):
                    acc[d] = 0.0
                for i in range(n):
                    dx = mx[i] - fx
                    dy = my[i] - fy
                    sigma = 0.5 * (ca[i] * dx * dx + cc[i] * dy * dy) + cb[i] * dx * dy
                    if sigma < 0.0:
                        continue
                    alpha = min(ALPHA_MAX, op[i] * np.exp(-sigma))
                    if alpha < ALPHA_MIN:
                        continue
                    next_t = T * (1.0 - alpha)
                    if next_t <= T_MIN:
                        break
                    w = alpha * T
                    for d in range(D):
                        acc[d] += w * col[i, d]
                    T = next_t
                    last = i + 1
                for d in range(D):
                    out_col[cam, py, px, d] = acc[d] + T * bg[cam, d]
                out_t[cam, py, px] = T
                out_last[cam, py, px] = last


@njit(parallel=True, fastmath=False, cache=True)
def _backward(means2d, conics, colors, opac, bg, offsets, flat, n_cams, width, height, ts,
              tiles_x, tiles_y, out_t, out_last, v_col, v_alpha_img,
              g_mean, g_conic, g_col, g_opac):
    """Gradients per intersection k (row of g_* arrays) for the tile that owns k."""
    D = colors.shape[1]
    n_tiles = tiles_x * tiles_y
    n_off = offsets.size - 1
    for job in prange(n_cams * n_tiles):
        if job >= n_off:
            continue
        cam = job // n_tiles
        tile = job % n_tiles
        ty, tx = tile // tiles_x, tile % tiles_x
        start = offsets[job]
        if offsets[job + 1] == start:
            continue
        buf = np.empty(D, means2d.dtype)
        for py in range(ty * ts, min((ty + 1) * ts, height)):
            for px in range(tx * ts, min((tx + 1) * ts, width)):
                fx = px + 0.5
                fy = py + 0.5
                t_final = out_t[cam, py, px]
                T = t_final
                va = v_alpha_img[cam, py, px]
                bgdot = 0.0
                for d in range(D):
                    buf[d] = 0.0
                    bgdot += bg[cam, d] * v_col[cam, py, px, d]
                for i in range(out_last[cam, py, px] - 1, -1, -1):
                    k = start + i
                    g = flat[k]
                    dx = means2d[g, 0] - fx
                    dy = means2d[g, 1] - fy
                    a, b, c = conics[g, 0], conics[g, 1], conics[g, 2]
                    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                    if sigma < 0.0:
                        continue
                    vis = np.exp(-sigma)
                    raw = opac[g] * vis
                    alpha = min(ALPHA_MAX, raw)
                    if alpha < ALPHA_MIN:
                        continue
                    ra = 1.0 / (1.0 - alpha)
                    T = T * ra
                    fac = alpha * T
                    v_a = 0.0
                    for d in range(D):
                        vc = v_col[cam, py, px, d]
                        g_col[k, d] += fac * vc
                        v_a += (colors[g, d] * T - buf[d] * ra) * vc
                        buf[d] += colors[g, d] * fac
                    v_a += t_final * ra * (va - bgdot)
                    if raw <= ALPHA_MAX:
                        v_sigma = -raw * v_a
                        g_conic[k, 0] += 0.5 * v_sigma * dx * dx
                        g_conic[k, 1] += v_sigma * dx * dy
                        g_conic[k, 2] += 0.5 * v_sigma * dy * dy
                        g_mean[k, 0] += v_sigma * (a * dx + b * dy)
                        g_mean[k, 1] += v_sigma * (b * dx + c * dy)
                        g_opac[k] += vis * v_a


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


class _TileRaster(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, backgrounds, depths, camera_ids, tile_bbox,
                n_cameras, width, height, tile_size):
        dt = means2d.dtype
        np_dt = np.float64 if dt == torch.float64 else np.float32
        tiles_x = (width + tile_size - 1) // tile_size
        tiles_y = (height + tile_size - 1) // tile_size
        cam_np = _np(camera_ids).astype(np.int64)
        order = np.argsort(_np(depths), kind="stable").astype(np.int64)
        offsets, flat = _build_intersections(order, cam_np, _np(tile_bbox).astype(np.int64),
                                             tiles_x * tiles_y, tiles_x)
        arrs = [_np(x).astype(np_dt, copy=False) for x in (means2d, conics, colors, opacities, backgrounds)]
        C, D = n_cameras, colors.shape[-1]
        out_col = np.empty((C, height, width, D), np_dt)
        out_t = np.empty((C, height, width), np_dt)
        out_last = np.empty((C, height, width), np.int32)
        _forward(*arrs, offsets, flat, C, width, height, tile_size, tiles_x, tiles_y,
                 out_col, out_t, out_last)
        ctx.state = (arrs, offsets, flat, C, width, height, tile_size, tiles_x, tiles_y, out_t, out_last)
        ctx.has_bg = backgrounds.requires_grad
        t = torch.from_numpy(out_t)
        return torch.from_numpy(out_col), (1.0 - t)[..., None]

    @staticmethod
    def backward(ctx, v_col, v_alpha):
        arrs, offsets, flat, C, width, height, ts, tiles_x, tiles_y, out_t, out_last = ctx.state
        np_dt = arrs[0].dtype
        D = arrs[2].shape[1]
        n_isect = flat.size
        g_mean = np.zeros((n_isect, 2), np_dt)
        g_conic = np.zeros((n_isect, 3), np_dt)
        g_col = np.zeros((n_isect, D), np_dt)
        g_opac = np.zeros(n_isect, np_dt)
        vc = np.ascontiguousarray(v_col.numpy().astype(np_dt, copy=False)) if v_col is not None \
            else np.zeros((C, height, width, D), np_dt)
        va = np.ascontiguousarray(v_alpha[..., 0].numpy().astype(np_dt, copy=False)) if v_alpha is not None \
            else np.zeros((C, height, width), np_dt)
        _backward(*arrs, offsets, flat, C, width, height, ts, tiles_x, tiles_y, out_t, out_last,
                  vc, va, g_mean, g_conic, g_col, g_opac)
        M = arrs[0].shape[0]
        idx = torch.from_numpy(flat.astype(np.int64))

        def reduce(g, shape):
            out = torch.zeros(shape, dtype=torch.from_numpy(g[:0]).dtype)
            return out.index_add_(0, idx, torch.from_numpy(g))

        v_bg = None
        if ctx.has_bg:
            t = torch.from_numpy(out_t)[..., None]
            v_bg = (torch.from_numpy(vc) * t).sum(dim=(1, 2))
        return (reduce(g_mean, (M, 2)), reduce(g_conic, (M, 3)), reduce(g_col, (M, D)),
                reduce(g_opac, (M,)), v_bg, None, None, None, None, None, None, None)


def composite_fast(means2d, conics, colors, opacities, depths, camera_ids, tile_bbox,
                   n_cameras: int, width: int, height: int, tile_size: int, backgrounds=None):
    """Same contract as cpu_reference.composite_reference, via the numba tile kernels."""
    dt = means2d.dtype
    if backgrounds is None:
        backgrounds = torch.zeros(n_cameras, colors.shape[-1], dtype=dt)
    col, alpha = _TileRaster.apply(means2d, conics, colors, opacities, backgrounds.to(dt), depths,
                                   camera_ids, tile_bbox, n_cameras, width, height, tile_size)
    return col.to(dt), alpha.to(dt)
