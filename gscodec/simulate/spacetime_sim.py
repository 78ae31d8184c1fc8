"""Compression simulation for Spacetime Gaussians (Dynamic GSCodec: "the same module choices
as Static GSCodec"): every stored attribute but the centre is quantized on a per-channel
grid fixed when the simulation starts (uniform noise in training, rounding in evaluation),
the entropy-constrained ones get a factorized rate term, and a learnable mask marks the
splats that move: the others store no motion and no angular velocity (the "static" mask).

Like `CompressionSim` it holds what the encoder needs (grids, learned distributions, the
mask), so the codec codes exactly the symbols training simulated. Positions are coded
losslessly on the position grid, as in Static GSCodec, so they are not simulated.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from gscodec.entropy.factorized import FactorizedEntropyModel
from gscodec.errors import InputError
from gscodec.simulate.masks import LearnableMask, MaskConfig
from gscodec.simulate.quantize import MODES, QuantConfig, Quantizer
from gscodec.simulate.sim import SymbolGrid
from gscodec.utils.config import ConfigBase

# channel form: [N, C] per attribute (the stored shapes of gscodec.scene.spacetime, flattened)
CHANNELS = {"motion": 9, "omega": 4, "quats": 4, "log_scales": 3, "opacity_logits": 1, "t_center": 1,
            "t_log_scale": 1, "features": 9}
MOVING = ("motion", "omega")  # what a static splat does not store


def _default_mask() -> MaskConfig:
    # ratio: the share of splats expected to move; the built-in scene's moving objects hold ~1/4
    return MaskConfig(kind="learnable", ratio=0.3, init_prob=0.9)


@dataclass
class SpacetimeSimConfig(ConfigBase):
    WHAT: ClassVar[str] = "spacetime simulation config"
    NESTED: ClassVar[dict] = {"static_mask": MaskConfig}

    start: int = 0  # first step with simulation (after densification)
    quantization: str = "noise"
    bits: dict[str, int] = field(default_factory=lambda: {name: 8 for name in CHANNELS})
    entropy_attributes: tuple[str, ...] = tuple(CHANNELS)
    lambda_rate: float = 0.01  # the paper's rate points: 0.02 and 0.01
    rate_sample: int = 2048
    lr_entropy: float = 5e-3
    static_mask: MaskConfig = field(default_factory=_default_mask)  # kind "none": every splat moves

    def validate(self) -> "SpacetimeSimConfig":
        if self.quantization not in MODES or self.quantization == "none":
            raise InputError(f"quantization must be noise or ste, got {self.quantization!r}")
        for name, b in self.bits.items():
            if name not in CHANNELS or not 2 <= int(b) <= 16:
                raise InputError(f"bits: {name!r} must be one of {tuple(CHANNELS)} with 2..16 bits, got {b}")
        missing = [a for a in CHANNELS if a not in self.bits]
        if missing:
            raise InputError(f"every spacetime attribute needs a bit width; missing: {missing}")
        unknown = [a for a in self.entropy_attributes if a not in CHANNELS]
        if unknown:
            raise InputError(f"entropy_attributes: unknown attributes {unknown}")
        if self.lambda_rate < 0:
            raise InputError("lambda_rate must be >= 0")
        if self.static_mask.kind not in ("learnable", "none"):
            raise InputError("static_mask.kind must be 'learnable' or 'none'")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def to_channels(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    n = len(p["means"])
    return {name: p[name].reshape(n, c) for name, c in CHANNELS.items()}


def from_channels(ch: dict[str, torch.Tensor], like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: ch[name].reshape(like[name].shape) for name in CHANNELS}


class SpacetimeSim(SymbolGrid, nn.Module):
    """forward(params) -> (simulated params, rate bits, elements); begin(params) fixes grids."""

    def __init__(self, cfg: SpacetimeSimConfig):
        super().__init__()
        self.cfg = cfg.validate()
        self.quantizers = nn.ModuleDict({
            name: Quantizer(c, QuantConfig(mode=cfg.quantization, bits=int(cfg.bits[name]), ema=None, clamp=False))
            for name, c in CHANNELS.items()})
        self.entropy = nn.ModuleDict({name: FactorizedEntropyModel(CHANNELS[name], init_scale=2.0 ** (cfg.bits[name] - 1))
                                      for name in cfg.entropy_attributes})
        self.mask: LearnableMask | None = None
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def begin(self, params: dict[str, torch.Tensor], resume_state: dict | None = None) -> None:
        ch = to_channels({k: v.detach() for k, v in params.items()})
        for name, qz in self.quantizers.items():
            lo, hi = ch[name].min(0).values, ch[name].max(0).values
            qz.set_range(lo, torch.maximum(hi, lo + 1e-6))
        if self.cfg.static_mask.kind == "learnable":
            self.mask = LearnableMask(len(params["means"]), self.cfg.static_mask).to(params["means"].device)
        if resume_state is not None:
            self.load_state_dict(resume_state)
        self.started.fill_(True)

    def moving(self) -> torch.Tensor | None:
        """Bool [N] of splats that store motion (None: all of them)."""
        return None if self.mask is None else self.mask.hard()

    def forward(self, params: dict[str, torch.Tensor], progress: float = 1.0):
        ch = to_channels(params)
        out, bits, elements = {}, torch.zeros((), device=params["means"].device), 0
        n = len(params["means"])
        rows = None
        if self.training and 0 < self.cfg.rate_sample < n:
            rows = torch.randperm(n, device=params["means"].device)[: self.cfg.rate_sample]
        m = None
        if self.mask is not None:
            self.mask.set_progress(progress)
            m = self.mask() if self.training else self.mask.hard().to(ch["motion"].dtype)
        for name, qz in self.quantizers.items():
            out[name] = qz(ch[name])
            if name in MOVING and m is not None:
                out[name] = out[name] * m[:, None]
            if name in self.entropy:
                y = self.symbol_space(name, out[name] if rows is None else out[name][rows])
                b = -torch.log2(self.entropy[name].likelihood(y))  # [rows, C], floored inside
                if name in MOVING and m is not None:  # a static splat stores no motion: no bits
                    b = b * (m if rows is None else m[rows])[:, None]
                bits = bits + b.sum()
                elements += y.numel()
        res = from_channels(out, params)
        res["means"] = params["means"]
        return res, bits, elements

    def state_for_checkpoint(self) -> dict:
        return {k: v.detach().cpu() for k, v in self.state_dict().items()}


__all__ = ["CHANNELS", "MOVING", "SpacetimeSim", "SpacetimeSimConfig", "from_channels", "to_channels"]
