"""PSNR and SSIM of images, in plain torch (a leaf: imports nothing of gscodec but errors).

Convention: images are float tensors in [0,1], channels last: [H,W,3] or [B,H,W,3]
(any leading dims). SSIM follows the 3DGS reference code (11x11 Gaussian window, sigma 1.5,
C1=0.01^2, C2=0.03^2, zero-padded 'same' convolution, mean over pixels and channels), so
numbers compare with published 3DGS results; it is differentiable (the trainer uses 1-SSIM).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gscodec.errors import InputError


def _check_pair(img: torch.Tensor, ref: torch.Tensor) -> None:
    if img.shape != ref.shape:
        raise InputError(f"metric inputs differ in shape: {tuple(img.shape)} vs {tuple(ref.shape)}")
    if img.dim() < 3 or img.shape[-1] != 3:
        raise InputError(f"metrics expect channels-last [...,H,W,3] images, got {tuple(img.shape)}")
    if not (img.is_floating_point() and ref.is_floating_point()):
        raise InputError("metrics expect float images in [0,1] (convert uint8 with /255)")


def mse(img: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean squared error over the whole tensor, in float64 (a float, for reports)."""
    _check_pair(img, ref)
    return float(torch.mean((img.detach().double() - ref.detach().double()) ** 2))


def psnr_from_mse(mse_value: float, max_val: float = 1.0) -> float:
    """10*log10(max^2/MSE); inf if the MSE is 0 (identical images)."""
    if mse_value == 0.0:
        return math.inf
    return 10.0 * math.log10(max_val * max_val / mse_value)


def psnr(img: torch.Tensor, ref: torch.Tensor, max_val: float = 1.0) -> float:
    """10*log10(max^2/MSE) over the whole tensor (a float, for reports); inf if identical."""
    return psnr_from_mse(mse(img, ref), max_val)


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return (g / g.sum()).to(dtype=dtype, device=device)


def ssim_map(img: torch.Tensor, ref: torch.Tensor, window: int = 11, sigma: float = 1.5,
             max_val: float = 1.0) -> torch.Tensor:
    """Per-pixel SSIM, same shape as the inputs ([...,H,W,3])."""
    _check_pair(img, ref)
    lead, (h, w) = img.shape[:-3], img.shape[-3:-1]
    x = img.reshape(-1, h, w, 3).permute(0, 3, 1, 2)
    y = ref.reshape(-1, h, w, 3).permute(0, 3, 1, 2).to(x.dtype)
    g = _gaussian_window(window, sigma, x.dtype, x.device)
    kx, ky = g.view(1, 1, 1, -1).repeat(3, 1, 1, 1), g.view(1, 1, -1, 1).repeat(3, 1, 1, 1)
    pad = window // 2

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian, zero padding ('same')
        t = F.conv2d(F.pad(t, (pad, pad, 0, 0)), kx, groups=3)
        return F.conv2d(F.pad(t, (0, 0, pad, pad)), ky, groups=3)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x * mu_x
    syy = blur(y * y) - mu_y * mu_y
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    m = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))
    return m.permute(0, 2, 3, 1).reshape(*lead, h, w, 3)


def ssim(img: torch.Tensor, ref: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM as a 0-dim tensor (keeps the graph: use `1 - ssim(...)` as a loss)."""
    return ssim_map(img, ref, window, sigma).mean()


__all__ = ["psnr", "ssim", "ssim_map"]
