"""LPIPS (AlexNet, v0.1), reimplemented without torchvision (a leaf like gscodec.metrics.image).

Why reimplemented: the backbone weights cannot be downloaded on this machine, so it needs one
local state-dict file holding both the backbone and the linear layers (keys as in
`lpips.LPIPS(net='alex').state_dict()`), given as an argument or by the env var
GSCODEC_LPIPS_WEIGHTS. Several files may be joined with os.pathsep (e.g. torchvision's
alexnet-owt-7be5be79.pth and lpips' weights/v0.1/alex.pth).
"""
from __future__ import annotations

import os
from functools import lru_cache

import torch
import torch.nn as nn

from gscodec.errors import GscodecError, InputError
from gscodec.metrics.image import _check_pair, psnr, ssim

LPIPS_ENV = "GSCODEC_LPIPS_WEIGHTS"


class LpipsUnavailable(GscodecError):
    """LPIPS cannot be computed because no weights file is available locally."""


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


MIN_SIDE = 31  # AlexNet's strides and pools leave no feature map below 31 px on a side


def lpips(img: torch.Tensor, ref: torch.Tensor, weights: str | os.PathLike | None = None) -> float:
    """Mean LPIPS-Alex of [...,H,W,3] images in [0,1]; raises LpipsUnavailable without weights
    or for images smaller than MIN_SIDE (a skipped metric, not a crashed run)."""
    _check_pair(img, ref)
    model = load_lpips(weights)
    h, w = img.shape[-3:-1]
    if min(h, w) < MIN_SIDE:
        raise LpipsUnavailable(f"LPIPS skipped: {h}x{w} images are below AlexNet's {MIN_SIDE} px minimum")
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


__all__ = ["LPIPS_ENV", "LPIPSAlex", "LpipsUnavailable", "image_metrics", "load_lpips", "lpips",
           "lpips_weights_path"]
