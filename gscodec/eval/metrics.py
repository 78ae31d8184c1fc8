"""Image metrics: PSNR, SSIM and LPIPS, in plain torch.

Convention: images are float tensors in [0,1], channels last: [H,W,3] or [B,H,W,3]
(any leading dims). SSIM follows the 3DGS reference code (11x11 Gaussian window, sigma 1.5,
C1=0.01^2, C2=0.03^2, zero-padded 'same' convolution, mean over pixels and channels), so
numbers compare with published 3DGS results; it is differentiable (the trainer uses 1-SSIM).

LPIPS (AlexNet, v0.1) is reimplemented here without torchvision, because the backbone weights
cannot be downloaded on this machine: it needs one local state-dict file holding both the
backbone and the linear layers (keys as in `lpips.LPIPS(net='alex').state_dict()`), given as
an argument or by the env var GSCODEC_LPIPS_WEIGHTS. Several files may be joined with
os.pathsep (e.g. torchvision's alexnet-owt-7be5be79.pth and lpips' weights/v0.1/alex.pth).
"""
from __future__ import annotations

import math
import os
from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F

from gscodec.errors import GscodecError, InputError

LPIPS_ENV = "GSCODEC_LPIPS_WEIGHTS"


class LpipsUnavailable(GscodecError):
    """LPIPS cannot be computed because no weights file is available locally."""


def _check_pair(img: torch.Tensor, ref: torch.Tensor) -> None:
    if img.shape != ref.shape:
        raise InputError(f"metric inputs differ in shape: {tuple(img.shape)} vs {tuple(ref.shape)}")
    if img.dim() < 3 or img.shape[-1] != 3:
        raise InputError(f"metrics expect channels-last [...,H,W,3] images, got {tuple(img.shape)}")
    if not (img.is_floating_point() and ref.is_floating_point()):
        raise InputError("metrics expect float images in [0,1] (convert uint8 with /255)")


def psnr(img: torch.Tensor, ref: torch.Tensor, max_val: float = 1.0) -> float:
    """10*log10(max^2/MSE) over the whole tensor (a float, for reports); inf if identical."""
    _check_pair(img, ref)
    mse = float(torch.mean((img.detach().double() - ref.detach().double()) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(max_val * max_val / mse)


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


# ---- LPIPS (AlexNet, v0.1) ---------------------------------------------------------------
class _Lin(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(cin, 1, 1, bias=False))


class _Alex(nn.Module):
    """torchvision AlexNet `features`, split after each ReLU as lpips does (same key names)."""

    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
                  nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                  nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
                  nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
                  nn.Conv2d(256, 256, 3, padding=1), nn.ReLU()]
        for k, (a, b) in enumerate([(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)], start=1):
            s = nn.Sequential()
            for i in range(a, b):
                s.add_module(str(i), layers[i])
            setattr(self, f"slice{k}", s)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            out.append(x)
        return out


class LPIPSAlex(nn.Module):
    """LPIPS with the AlexNet backbone; inputs channels-first in [-1,1] as in the lpips package."""

    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.net = _Alex()
        for i, c in enumerate(self.CHANNELS):
            setattr(self, f"lin{i}", _Lin(c))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = self.net((x - self.shift) / self.scale)
        fy = self.net((y - self.shift) / self.scale)
        total = 0.0
        for i, (a, b) in enumerate(zip(fx, fy)):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{i}").model((a - b) ** 2).mean(dim=(2, 3))
        return total.view(-1)  # [B]


def _normalise_keys(sd: dict) -> dict:
    """Accept lpips' own keys, torchvision's `features.N.*` and lpips' `linK.model.1.*`."""
    slice_of = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    out = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if k.startswith("features."):
            n, rest = k[len("features."):].split(".", 1)
            if int(n) not in slice_of:
                continue
            k = f"net.slice{slice_of[int(n)]}.{n}.{rest}"
        elif k.startswith("scaling_layer."):
            k = k[len("scaling_layer."):]
        elif k.startswith("classifier."):
            continue
        out[k] = v
    return out


def lpips_weights_path(weights: str | os.PathLike | None = None) -> str:
    """The weights path(s) to use, or LpipsUnavailable with the one-line reason."""
    path = str(weights) if weights else os.environ.get(LPIPS_ENV, "")
    if not path:
        raise LpipsUnavailable(f"LPIPS skipped: no weights (set {LPIPS_ENV}=/path/to/alex.pth)")
    missing = [p for p in path.split(os.pathsep) if not os.path.isfile(p)]
    if missing:
        raise LpipsUnavailable(f"LPIPS skipped: weights file not found: {missing[0]} "
                               f"(set {LPIPS_ENV}=/path/to/alex.pth)")
    return path


def load_lpips(weights: str | os.PathLike | None = None) -> LPIPSAlex:
    """Build LPIPSAlex from local weights; all backbone and lin tensors must be present."""
    return _load_lpips(lpips_weights_path(weights))


@lru_cache(maxsize=4)
def _load_lpips(path: str) -> LPIPSAlex:
    sd: dict = {}
    for p in path.split(os.pathsep):
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is a user input problem
            raise InputError(f"cannot read LPIPS weights {p}: {e}") from None
        if not isinstance(obj, dict):
            raise InputError(f"LPIPS weights {p}: expected a state dict")
        sd.update(_normalise_keys(obj))
    model = LPIPSAlex()
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd and k not in ("shift", "scale")]
    if missing:
        raise InputError(f"LPIPS weights {path}: missing {len(missing)} tensors, e.g. {missing[:3]}")
    bad = [k for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)]
    if bad:
        raise InputError(f"LPIPS weights {path}: wrong shapes for {bad[:3]}")
    model.load_state_dict({k: sd.get(k, expected[k]) for k in expected})
    return model


def lpips(img: torch.Tensor, ref: torch.Tensor, weights: str | os.PathLike | None = None) -> float:
    """Mean LPIPS-Alex of [...,H,W,3] images in [0,1]; raises LpipsUnavailable without weights."""
    _check_pair(img, ref)
    model = load_lpips(weights)
    h, w = img.shape[-3:-1]
    x = img.detach().reshape(-1, h, w, 3).permute(0, 3, 1, 2).float() * 2 - 1
    y = ref.detach().reshape(-1, h, w, 3).permute(0, 3, 1, 2).float() * 2 - 1
    with torch.no_grad():
        return float(model(x, y).mean())


def image_metrics(img: torch.Tensor, ref: torch.Tensor,
                  lpips_weights: str | os.PathLike | None = None) -> dict:
    """{'psnr', 'ssim', 'lpips'}; lpips is None when no weights are available."""
    with torch.no_grad():
        out = {"psnr": psnr(img, ref), "ssim": float(ssim(img, ref)), "lpips": None}
    try:
        out["lpips"] = lpips(img, ref, lpips_weights)
    except LpipsUnavailable:
        pass
    return out
