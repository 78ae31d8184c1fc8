"""Adaptive masks on SH rest (GSCodec Studio IV-C "Adaptive Masking").

Most splats look the same from every direction and need no view-dependent colour, so a
mask per splat decides who keeps its SH rest coefficients; masked splats store none.

* LearnableMask: a logit per splat; the soft mask sigmoid(logit / T) anneals towards a
  binary one as the temperature T falls; the forward pass uses the hard 0/1 value (> 0.5)
  with the soft mask's gradient (straight through), so training sees what the decoder gets.
  Loss: a sparsity term mean(soft) plus KL(target || mean(soft)), which pulls the share of
  active splats to the target ratio while letting content decide which ones.
* GradientMask: SH rest starts at zero; a backward hook zeroes the gradient of every splat
  whose SH-rest gradient norm is below a threshold, so only splats that ask for view
  dependence ever get it; once the target share is active, no new splats are admitted.
  The mask is then simply "SH rest is nonzero".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from gscodec.utils.config import ConfigBase


@dataclass
class MaskConfig(ConfigBase):
    WHAT: ClassVar[str] = "mask config"
    kind: str = "learnable"  # learnable | gradient | none
    ratio: float = 0.3  # target share of splats that keep SH rest
    init_prob: float = 0.9  # learnable: initial soft mask value
    temperature: tuple[float, float] = (1.0, 0.05)  # learnable: annealed from first to second
    sparsity_weight: float = 1e-3
    kl_weight: float = 1e-2
    grad_threshold: float = 1e-6  # gradient: per-splat SH-rest gradient norm to become active

    def __post_init__(self):
        if self.kind not in ("learnable", "gradient", "none"):
            raise ValueError(f"mask kind must be learnable, gradient or none, got {self.kind!r}")
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"mask ratio must be in (0, 1], got {self.ratio}")


class _HardSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, soft):
        return (soft > 0.5).to(soft.dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class LearnableMask(nn.Module):
    def __init__(self, n: int, cfg: MaskConfig):
        super().__init__()
        self.cfg = cfg
        p = cfg.init_prob
        self.logits = nn.Parameter(torch.full((n,), math.log(p / (1 - p))))
        self.register_buffer("temperature", torch.tensor(float(cfg.temperature[0])))

    def set_progress(self, t: float) -> None:
        """t in [0, 1]: geometric annealing of the temperature."""
        t0, t1 = self.cfg.temperature
        self.temperature.fill_(t0 * (t1 / t0) ** min(max(t, 0.0), 1.0))

    def soft(self) -> torch.Tensor:
        return torch.sigmoid(self.logits / self.temperature)

    def forward(self) -> torch.Tensor:
        """[N] mask in {0, 1} (hard) with the soft mask's gradient."""
        return _HardSTE.apply(self.soft())

    def hard(self) -> torch.Tensor:
        return (self.soft() > 0.5).detach()

    def loss(self) -> torch.Tensor:
        s = self.soft()
        p = s.mean().clamp(1e-6, 1 - 1e-6)
        r = self.cfg.ratio
        kl = r * torch.log(r / p) + (1 - r) * torch.log((1 - r) / (1 - p)) if r < 1 else -torch.log(p)
        return self.cfg.sparsity_weight * s.mean() + self.cfg.kl_weight * kl


class GradientMask:
    """Not a module (it holds no parameters): a hook on the SH-rest parameter."""

    def __init__(self, cfg: MaskConfig):
        self.cfg = cfg
        self._handle = None

    @torch.no_grad()
    def attach(self, sh_rest: nn.Parameter, reset: bool = True) -> None:
        """Hook the parameter; reset=True zeroes it first (at the start, not on resume)."""
        if reset:
            sh_rest.zero_()
        self.detach()
        self._handle = sh_rest.register_hook(lambda g, p=sh_rest: self._filter(g, p))

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def active(self, sh_rest: torch.Tensor) -> torch.Tensor:
        return sh_rest.detach().reshape(len(sh_rest), -1).abs().amax(1) > 0

    def _filter(self, g: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        active = self.active(p)
        strong = g.reshape(len(g), -1).norm(dim=1) > self.cfg.grad_threshold
        room = int(self.cfg.ratio * len(p)) - int(active.sum())
        new = strong & ~active
        if room <= 0:
            new = torch.zeros_like(new)
        elif int(new.sum()) > room:  # admit the strongest first
            norms = torch.where(new, g.reshape(len(g), -1).norm(dim=1), torch.zeros(()))
            keep = torch.topk(norms, room).indices
            new = torch.zeros_like(new)
            new[keep] = True
        allowed = active | new
        return g * allowed.reshape(-1, *([1] * (g.ndim - 1))).to(g.dtype)
