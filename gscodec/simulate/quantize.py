"""Quantization simulation for training with compression in the loop (GSCodec Studio IV-C).

Why: rounding has zero gradient almost everywhere, so training sees either additive
uniform noise of one step width (a differentiable proxy whose density matches the
rounded value's bins) or rounding with a straight-through gradient. In eval mode both
round, so what the renderer sees then is exactly what the decoder will reconstruct.

The step q is given directly (grid anchored at 0: values k*q) or derived from a bit width
over a per-channel range [lo, hi] (grid lo + k*q, q = (hi-lo)/(2^bits-1)); the range is
either set explicitly or tracked from training batches with an EMA of per-channel min/max.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MODES = ("noise", "ste", "none")


@dataclass
class QuantConfig:
    """One attribute's quantization: mode in MODES; `step` (fixed q) wins over `bits`
    (q from the tracked/set range); `ema` is the range-tracking momentum (None: the range
    only changes through Quantizer.set_range)."""

    mode: str = "noise"
    bits: int | None = 8
    step: float | None = None
    ema: float | None = 0.99
    clamp: bool = True  # with a bit width: clamp indices to [0, 2^bits-1] (False: the grid extends)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"quantization mode must be one of {MODES}, got {self.mode!r}")
        if self.step is None and self.bits is None and self.mode != "none":
            raise ValueError("QuantConfig needs a step or a bit width")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"quantization step must be > 0, got {self.step}")
        if self.bits is not None and not 1 <= self.bits <= 32:
            raise ValueError(f"bit width must be in 1..32, got {self.bits}")


class _RoundSTE(torch.autograd.Function):
    """round() forward, identity backward."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return _RoundSTE.apply(x)


SIM_MODES = ("noise", "ste", "round")


def simulate_quantization(x: torch.Tensor, step, mode: str) -> torch.Tensor:
    """x on the grid k * step as training sees it: 'noise' adds uniform noise of one step
    (the proxy whose density matches the rounded bins), 'ste' rounds with an identity
    gradient, 'round' rounds (evaluation: exactly what the decoder rebuilds). The one
    quantizer every entropy model and trainer calls; `step` broadcasts against x."""
    if mode == "noise":
        return x + (torch.rand_like(x) - 0.5) * step
    if mode == "ste":
        return round_ste(x / step) * step
    if mode == "round":
        return torch.round(x / step) * step
    raise ValueError(f"quantization mode must be one of {SIM_MODES}, got {mode!r}")


def train_or_round(training: bool, mode: str = "noise") -> str:
    """The simulation mode of a module: `mode` while training, rounding in evaluation."""
    return mode if training else "round"


class Quantizer(nn.Module):
    """Simulated quantizer for an attribute of shape [..., C] (C = channels).

    forward(x): training -> noise: x + U(-q/2, q/2); ste: grid-rounded value with identity
    gradient; none: x. Eval -> rounded onto the grid (none: x). With a bit width, ste/eval
    indices are clamped to [0, 2^bits-1], so eval output == dequantize(symbols(x)).
    symbols(x) / dequantize(k): the integer indices a coder stores, and back.
    """

    def __init__(self, channels: int = 1, config: QuantConfig | None = None, **kw):
        super().__init__()
        self.config = config if config is not None else QuantConfig(**kw)
        self.channels = int(channels)
        self.register_buffer("lo", torch.zeros(self.channels))
        self.register_buffer("hi", torch.ones(self.channels))
        self.register_buffer("range_set", torch.zeros((), dtype=torch.bool))

    @property
    def mode(self) -> str:
        return self.config.mode

    def set_range(self, lo, hi) -> None:
        """Fix the per-channel range explicitly (e.g. from the whole attribute)."""
        self.lo.copy_(torch.as_tensor(lo, dtype=self.lo.dtype).expand(self.channels))
        self.hi.copy_(torch.as_tensor(hi, dtype=self.hi.dtype).expand(self.channels))
        self.range_set.fill_(True)

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """Update the tracked range from a batch: first batch sets it, later ones EMA."""
        flat = x.detach().reshape(-1, self.channels).to(self.lo.dtype)
        if flat.numel() == 0:
            return
        mn, mx = flat.min(0).values, flat.max(0).values
        if not bool(self.range_set):
            self.lo.copy_(mn)
            self.hi.copy_(mx)
            self.range_set.fill_(True)
        else:
            m = self.config.ema
            self.lo.mul_(m).add_((1 - m) * mn)
            self.hi.mul_(m).add_((1 - m) * mx)

    def step(self) -> torch.Tensor:
        """Per-channel step q, shape [C]."""
        if self.config.step is not None:
            return torch.full_like(self.lo, float(self.config.step))
        levels = 2 ** self.config.bits - 1
        return ((self.hi - self.lo) / levels).clamp_min(1e-12)

    def origin(self) -> torch.Tensor:
        """Grid origin per channel: 0 for a fixed step, lo for a ranged bit width."""
        return torch.zeros_like(self.lo) if self.config.step is not None else self.lo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return x
        if self.training and self.config.step is None and self.config.ema is not None:
            self.observe(x)
        q = self.step().to(x.dtype)
        o = self.origin().to(x.dtype)
        if self.training and self.mode == "noise":
            return simulate_quantization(x - o, q, "noise") + o
        k = round_ste((x - o) / q) if self.training else torch.round((x - o) / q)
        if self.config.step is None and self.config.clamp:  # same clamp as symbols(); the gradient stays identity
            k = k + (k.clamp(0, 2 ** self.config.bits - 1) - k).detach()
        return k * q + o

    @torch.no_grad()
    def symbols(self, x: torch.Tensor) -> torch.Tensor:
        """Integer grid indices (int64) of x; with a bit width they lie in [0, 2^bits-1]."""
        q, o = self.step().to(x.dtype), self.origin().to(x.dtype)
        k = torch.round((x - o) / q).to(torch.int64)
        if self.config.step is None and self.config.clamp:
            k = k.clamp(0, 2 ** self.config.bits - 1)
        return k

    def dequantize(self, k: torch.Tensor) -> torch.Tensor:
        return k.to(self.lo.dtype) * self.step() + self.origin()


def make_quantizers(configs: dict[str, QuantConfig | None], channels: dict[str, int]) -> nn.ModuleDict:
    """One Quantizer per attribute; an attribute mapped to None is not quantized (mode none)."""
    return nn.ModuleDict({
        name: Quantizer(channels[name], cfg if cfg is not None else QuantConfig(mode="none"))
        for name, cfg in configs.items()
    })
