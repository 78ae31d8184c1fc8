"""EWA projection of 3D Gaussians to screen space, in differentiable torch (gsplat's
`fully_fused_projection` for the pinhole model, unpacked layout [C,N,...]).

Culling decisions (near/far, degenerate covariance, radius, off-screen) are taken on
detached values; culled entries get safe stand-in values so that no inf/NaN can leak into
the backward pass through the masked branches.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Projection:
    means2d: torch.Tensor        # [C,N,2] pixel coordinates
    conics: torch.Tensor         # [C,N,3] inverse 2D covariance (a, b, c) of [[a,b],[b,c]]
    depths: torch.Tensor         # [C,N] camera-space z
    radii: torch.Tensor          # [C,N] int32, 0 where culled
    compensations: torch.Tensor  # [C,N] sqrt(det(cov2d)/det(cov2d + eps2d I)) (antialiasing)
    tile_bbox: torch.Tensor      # [C,N,4] int64 (tx0, ty0, tx1, ty1), tiles tx0<=tx<tx1

    @property
    def visible(self) -> torch.Tensor:
        return self.radii > 0


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """[N,4] w,x,y,z (any norm) -> [N,3,3]."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(quats.shape[:-1] + (3, 3))


def project(means, quats, scales, viewmats, Ks, width: int, height: int, *, eps2d: float = 0.3,
            near_plane: float = 0.01, far_plane: float = 1e10, radius_clip: float = 0.0,
            tile_size: int = 16) -> Projection:
    """Project N Gaussians into C pinhole cameras (OpenCV axes, viewmats = world-to-camera).

    cov2d = (J W M)(J W M)^T with M = R(q) S, written as broadcast products of 3-vectors:
    CPU torch is several times faster this way than with millions of tiny batched matmuls.
    """
    W = viewmats[:, :3, :3]                                          # [C,3,3]
    t = viewmats[:, :3, 3]                                           # [C,3]
    Wc = W[:, None]                                                  # [C,1,3,3]
    p = (Wc[..., 0] * means[None, :, 0, None] + Wc[..., 1] * means[None, :, 1, None]
         + Wc[..., 2] * means[None, :, 2, None]) + t[:, None, :]     # [C,N,3]
    M = (quat_to_rotmat(quats) * scales[..., None, :])[None]         # [1,N,3,3]
    # A = W M, rows A_i [C,N,3]
    A = [Wc[..., i, 0, None] * M[..., 0, :] + Wc[..., i, 1, None] * M[..., 1, :]
         + Wc[..., i, 2, None] * M[..., 2, :] for i in range(3)]

    fx, fy = Ks[:, 0, 0][:, None], Ks[:, 1, 1][:, None]
    cx, cy = Ks[:, 0, 2][:, None], Ks[:, 1, 2][:, None]
    x, y, z = p.unbind(-1)
    in_depth = ((z >= near_plane) & (z <= far_plane)).detach()
    z_safe = torch.where(in_depth, z, torch.ones_like(z))
    rz = 1.0 / z_safe
    # Jacobian evaluated at positions clamped to 1.3x the field of view (3DGS / gsplat).
    tan_fx, tan_fy = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - cx) / fx + 0.3 * tan_fx, cx / fx + 0.3 * tan_fx
    lim_yp, lim_yn = (height - cy) / fy + 0.3 * tan_fy, cy / fy + 0.3 * tan_fy
    tx = z_safe * torch.minimum(lim_xp, torch.maximum(-lim_xn, x * rz))
    ty = z_safe * torch.minimum(lim_yp, torch.maximum(-lim_yn, y * rz))
    # J = [[fx/z, 0, -fx tx/z^2], [0, fy/z, -fy ty/z^2]];  B = J A
    B0 = (fx * rz)[..., None] * A[0] + (-fx * tx * rz * rz)[..., None] * A[2]
    B1 = (fy * rz)[..., None] * A[1] + (-fy * ty * rz * rz)[..., None] * A[2]
    a0, b, c0 = (B0 * B0).sum(-1), (B0 * B1).sum(-1), (B1 * B1).sum(-1)
    det_orig = a0 * c0 - b * b
    a, c = a0 + eps2d, c0 + eps2d
    det = a * c - b * b
    ok = in_depth & (det > 0).detach()
    det_safe = torch.where(ok, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)
    compensations = torch.sqrt(torch.clamp_min(torch.where(ok, det_orig, det_safe) / det_safe, 0.0))
    means2d = torch.stack([fx * x * rz + cx, fy * y * rz + cy], dim=-1)

    with torch.no_grad():
        half = 0.5 * (a + c)
        v1 = half + torch.sqrt(torch.clamp_min(half * half - det, 0.01))
        radius = torch.ceil(3.0 * torch.sqrt(torch.clamp_min(v1, 0.0)))
        radius = torch.where(ok, radius, torch.zeros_like(radius))
        mx, my = means2d[..., 0], means2d[..., 1]
        off = (mx + radius <= 0) | (mx - radius >= width) | (my + radius <= 0) | (my - radius >= height)
        keep = ok & (radius > radius_clip) & ~off
        radius = torch.where(keep, radius, torch.zeros_like(radius))
        tw, th = (width + tile_size - 1) // tile_size, (height + tile_size - 1) // tile_size
        r_t = radius / tile_size
        bbox = torch.stack([
            torch.clamp(torch.floor(mx / tile_size - r_t), 0, tw),
            torch.clamp(torch.floor(my / tile_size - r_t), 0, th),
            torch.clamp(torch.ceil(mx / tile_size + r_t), 0, tw),
            torch.clamp(torch.ceil(my / tile_size + r_t), 0, th),
        ], dim=-1).nan_to_num(0.0).long()
        bbox = torch.where(keep[..., None], bbox, torch.zeros_like(bbox))
    return Projection(means2d, conics, torch.where(in_depth, z, z_safe), radius.int(),
                      compensations, bbox)
