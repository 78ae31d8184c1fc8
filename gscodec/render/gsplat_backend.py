"""Thin lazy adapter over `gsplat.rasterization` (optional dependency, CUDA only)."""
from __future__ import annotations

from gscodec.errors import InputError


def gsplat_rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height, **kw):
    """Forward everything to gsplat; a clear InputError when it cannot run here."""
    try:
        import gsplat
    except ImportError as e:
        raise InputError("backend='gsplat' needs the optional gsplat package "
                         "(pip install 'gscodec[cuda]'); use backend='cpu'") from e
    if not means.is_cuda:
        raise InputError("backend='gsplat' needs CUDA tensors; move the inputs to a GPU or use backend='cpu'")
    colors_, alphas, meta = gsplat.rasterization(means, quats, scales, opacities, colors, viewmats,
                                                 Ks, width, height, **kw)
    meta["backend"] = "gsplat"
    return colors_, alphas, meta
