"""Pure-PyTorch reference compositing: every pixel against every visible Gaussian of its
camera, in depth order, in chunks of pixels so memory stays bounded.

It applies exactly the rules of gsplat's tile rasterizer (tile bounding boxes, pixel
centres at +0.5, sigma < 0 and alpha < 1/255 skipped, alpha capped at ALPHA_MAX, stop
before the Gaussian that would take transmittance to <= 1e-4) and is differentiable by
autograd (chunks are checkpointed so backward memory stays bounded), so it serves as the oracle for the fast numba path and for gradcheck.
"""
from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

ALPHA_MAX = 0.999       # gsplat caps alpha at 0.999 (the INRIA code uses 0.99)
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4

_CHUNK_ELEMS = 1 << 22  # pixels x Gaussians per chunk


def composite_reference(means2d, conics, colors, opacities, depths, camera_ids, tile_bbox,
                        n_cameras: int, width: int, height: int, tile_size: int,
                        backgrounds=None):
    """Packed visible Gaussians [M,...] -> (colors [C,H,W,D], alphas [C,H,W,1])."""
    D = colors.shape[-1]
    dev, dt = means2d.device, means2d.dtype
    ys, xs = torch.meshgrid(torch.arange(height, device=dev), torch.arange(width, device=dev),
                            indexing="ij")
    px = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1)           # [P,2] integer pixel
    pc = px.to(dt) + 0.5
    ptile = torch.div(px, tile_size, rounding_mode="floor")
    out_c, out_a = [], []
    for cam in range(n_cameras):
        sel = torch.nonzero(camera_ids == cam).flatten()
        order = torch.sort(depths[sel].detach(), stable=True).indices
        idx = sel[order]
        m2, con, col, op, bb = means2d[idx], conics[idx], colors[idx], opacities[idx], tile_bbox[idx]
        chunk = max(1, _CHUNK_ELEMS // max(1, len(idx)))
        cols, alphas = [], []
        for s in range(0, pc.shape[0], chunk):
            args = (pc[s:s + chunk], ptile[s:s + chunk], m2, con, col, op, bb)
            if (chunk < pc.shape[0] and torch.is_grad_enabled()
                    and any(t.requires_grad for t in (m2, con, col, op))):
                # Several chunks: recompute each in backward so autograd memory stays
                # O(chunk), not O(P*M). (Reentrant checkpointing bounds memory here, the
                # non-reentrant kind did not, but it supports .backward() only, not
                # autograd.grad; single-chunk problems such as gradcheck skip it.)
                c_img, a_img = checkpoint(_composite_chunk, *args, use_reentrant=True)
            else:
                c_img, a_img = _composite_chunk(*args)
            cols.append(c_img)
            alphas.append(a_img)
        img = torch.cat(cols, 0) if cols else torch.zeros(0, D, dtype=dt, device=dev)
        alpha = torch.cat(alphas, 0) if alphas else torch.zeros(0, dtype=dt, device=dev)
        if backgrounds is not None:
            img = img + (1.0 - alpha)[:, None] * backgrounds[cam]
        out_c.append(img.reshape(height, width, D))
        out_a.append(alpha.reshape(height, width, 1))
    return torch.stack(out_c), torch.stack(out_a)


def _composite_chunk(pc, ptile, m2, con, col, op, bb):
    """Front-to-back compositing of one chunk of pixels [P] against sorted Gaussians [M]."""
    if m2.shape[0] == 0:
        z = torch.zeros(pc.shape[0], dtype=pc.dtype, device=pc.device)
        return torch.zeros(pc.shape[0], col.shape[-1], dtype=pc.dtype, device=pc.device), z
    dx = m2[None, :, 0] - pc[:, None, 0]                              # [P,M]
    dy = m2[None, :, 1] - pc[:, None, 1]
    sigma = 0.5 * (con[None, :, 0] * dx * dx + con[None, :, 2] * dy * dy) + con[None, :, 1] * dx * dy
    raw = op[None, :] * torch.exp(-sigma)
    alpha = torch.clamp_max(raw, ALPHA_MAX)
    in_tile = ((ptile[:, None, 0] >= bb[None, :, 0]) & (ptile[:, None, 0] < bb[None, :, 2])
               & (ptile[:, None, 1] >= bb[None, :, 1]) & (ptile[:, None, 1] < bb[None, :, 3]))
    used = in_tile & (sigma >= 0) & (alpha >= ALPHA_MIN)
    alpha = torch.where(used, alpha, torch.zeros_like(alpha))
    one_minus = 1.0 - alpha
    t_after = torch.cumprod(one_minus, dim=1)                         # T after each Gaussian
    t_before = torch.cat([torch.ones_like(t_after[:, :1]), t_after[:, :-1]], dim=1)
    # T after is non-increasing, so this keeps exactly the prefix before the stopping Gaussian.
    keep = (t_after > T_MIN).detach()
    w = torch.where(keep, alpha * t_before, torch.zeros_like(alpha))
    img = w @ col
    # Final transmittance: the T after the last kept Gaussian (1 if none).
    last = torch.where(keep, torch.arange(keep.shape[1], device=pc.device)[None, :], -1).amax(1)
    t_fin = torch.where(last >= 0, t_after.gather(1, last.clamp_min(0)[:, None])[:, 0],
                        torch.ones_like(last, dtype=pc.dtype))
    return img, 1.0 - t_fin
