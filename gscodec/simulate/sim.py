"""Compression simulation for 3DGS training (GSCodec Studio IV-C), as one module.

`CompressionSim` sits between the trainable parameters and the renderer: each step it
returns the attributes as the decoder will see them (quantization simulated by noise or
STE, SH rest masked) plus a rate term from the entropy model. It holds everything the
Static GSCodec encoder later needs: the per-channel quantization grids, the learned
distributions and the masks, so the codec codes exactly the symbols training simulated.

Attributes in channel form (what is quantized and coded): quats = unit quaternion with
w >= 0 [N,4]; log_scales [N,3]; opacity_logits [N,1]; sh_dc [N,3]; sh_rest [N,3K].
Symbol space: y = (x - origin) / step - center, so symbols are integers near 0 (the
grid's origin and step are fixed when simulation starts, from the attribute's range and
its bit width; the grid is not clamped, so values may leave the initial range).

The simulation starts at `SimConfig.start` on a fixed set of splats: densification must be
over by then (TrainConfig.validate checks it), as the grids and masks are per splat.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from gscodec.entropy.context_gaussian import ContextGridConfig, HashGridGaussianModel
from gscodec.entropy.factorized import FactorizedEntropyModel
from gscodec.errors import InputError
from gscodec.simulate.masks import GradientMask, LearnableMask, MaskConfig
from gscodec.simulate.quantize import MODES, QuantConfig, Quantizer
from gscodec.utils.config import ConfigBase

ATTRIBUTES = ("quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest")
ENTROPY_MODELS = ("factorized", "gaussian", "none")


@dataclass
class SimConfig(ConfigBase):
    WHAT: ClassVar[str] = "simulation config"
    NESTED: ClassVar[dict] = {"mask": MaskConfig, "grid": ContextGridConfig}
    """Defaults = Static GSCodec's choices: noise quantization, factorized entropy model on
    quats / scales / opacity / SH DC, learnable SH-rest mask."""

    start: int = 0  # first step with simulation (after densification)
    quantization: str = "noise"  # noise | ste | none, for every attribute in `bits`
    quant_modes: dict[str, str] = field(default_factory=dict)  # per-attribute override
    bits: dict[str, int] = field(default_factory=lambda: {
        "quats": 8, "log_scales": 8, "opacity_logits": 8, "sh_dc": 8})
    entropy_model: str = "factorized"  # factorized | gaussian | none
    entropy_attributes: tuple[str, ...] = ("quats", "log_scales", "opacity_logits", "sh_dc")
    lambda_rate: float = 0.006
    rate_sample: int = 2048  # splats drawn per step for the rate estimate (HAC samples ~5%); 0: all
    lr_entropy: float = 5e-3
    mask: MaskConfig = field(default_factory=MaskConfig)
    grid: ContextGridConfig = field(default_factory=ContextGridConfig)

    def validate(self) -> "SimConfig":
        if self.quantization not in MODES:
            raise InputError(f"quantization must be one of {MODES}, got {self.quantization!r}")
        for name, mode in self.quant_modes.items():
            if name not in ATTRIBUTES or mode not in MODES:
                raise InputError(f"quant_modes: {name!r} -> {mode!r} is not an attribute -> one of {MODES}")
        for name, b in self.bits.items():
            if name not in ATTRIBUTES or not 2 <= int(b) <= 16:
                raise InputError(f"bits: {name!r} must be an attribute of {ATTRIBUTES} with 2..16 bits, got {b}")
        if self.entropy_model not in ENTROPY_MODELS:
            raise InputError(f"entropy_model must be one of {ENTROPY_MODELS}, got {self.entropy_model!r}")
        missing = [a for a in self.entropy_attributes if a not in self.bits]
        if self.entropy_model != "none" and missing:
            raise InputError(f"entropy-constrained attributes need a bit width: {missing}")
        unquantized = [a for a in self.entropy_attributes if self.mode(a) == "none"]
        if self.entropy_model != "none" and unquantized:
            raise InputError(f"entropy-constrained attributes need quantization (noise or ste), not 'none': "
                             f"{unquantized}; or set entropy_model = 'none'")
        if self.lambda_rate < 0:
            raise InputError("lambda_rate must be >= 0")
        return self

    def mode(self, name: str) -> str:
        return self.quant_modes.get(name, self.quantization)

    def coded_attributes(self) -> tuple[str, ...]:
        return tuple(a for a in self.entropy_attributes if self.entropy_model != "none")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def to_channels(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Model parameters (stored form) -> channel form [N, C] per attribute."""
    q = params["quats"]
    q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
    q = torch.where(q[:, :1] < 0, -q, q)
    return {"quats": q, "log_scales": params["log_scales"], "opacity_logits": params["opacity_logits"][:, None],
            "sh_dc": params["sh_dc"], "sh_rest": params["sh_rest"].reshape(len(q), -1)}


def from_channels(ch: dict[str, torch.Tensor], k_rest: int) -> dict[str, torch.Tensor]:
    return {"quats": ch["quats"], "log_scales": ch["log_scales"], "opacity_logits": ch["opacity_logits"][:, 0],
            "sh_dc": ch["sh_dc"], "sh_rest": ch["sh_rest"].reshape(len(ch["quats"]), k_rest, 3)}


CHANNELS = {"quats": 4, "log_scales": 3, "opacity_logits": 1, "sh_dc": 3}


class SymbolGrid:
    """The symbol space shared by every simulation (needs self.cfg.bits and self.quantizers):
    y = (x - origin) / step - center, integers near 0 once rounded; and their loss terms."""

    def center(self, name: str) -> int:
        return (2 ** int(self.cfg.bits[name]) - 1) // 2

    def symbol_space(self, name: str, x: torch.Tensor) -> torch.Tensor:
        qz = self.quantizers[name]
        return (x - qz.origin().to(x.dtype)) / qz.step().to(x.dtype) - self.center(name)

    def symbols(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Integer symbols (centred) the codec stores for channel-form values x."""
        return self.quantizers[name].symbols(x) - self.center(name)

    def from_symbols(self, name: str, k: torch.Tensor) -> torch.Tensor:
        return self.quantizers[name].dequantize(k + self.center(name))

    # the loss terms every simulation adds (needs self.cfg.lambda_rate and self.mask)
    def rate_loss(self, bits: torch.Tensor, elements: int) -> torch.Tensor:
        """λ · mean bits per constrained element (GSCodec Studio eq. 5, weighted)."""
        return self.cfg.lambda_rate * bits / max(elements, 1)

    def aux_loss(self) -> torch.Tensor:
        return self.mask.loss() if self.mask is not None and self.training else torch.zeros(())


class CompressionSim(SymbolGrid, nn.Module):
    """forward(params, xyz) -> (simulated params, rate bits, aux loss). `begin(params)` fixes
    the quantization grids (and the masks) from the current attributes."""

    def __init__(self, cfg: SimConfig, n_rest_channels: int = 0):
        super().__init__()
        self.cfg = cfg.validate()
        self.quantizers = nn.ModuleDict({
            name: Quantizer(CHANNELS[name] if name in CHANNELS else n_rest_channels,
                            QuantConfig(mode=cfg.mode(name), bits=int(b), ema=None, clamp=False))
            for name, b in cfg.bits.items() if cfg.mode(name) != "none" and (name in CHANNELS or n_rest_channels)})
        models = {}
        for name in cfg.coded_attributes():
            c = CHANNELS[name]
            if cfg.entropy_model == "factorized":
                models[name] = FactorizedEntropyModel(c, init_scale=2.0 ** (cfg.bits[name] - 1))
            else:
                models[name] = HashGridGaussianModel(c, cfg.grid)
        self.entropy = nn.ModuleDict(models)
        self.mask: LearnableMask | None = None
        self.grad_mask: GradientMask | None = None
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    # ---- setup -------------------------------------------------------------------------
    @torch.no_grad()
    def begin(self, params: dict[str, torch.Tensor], sh_rest: nn.Parameter | None = None,
              resume_state: dict | None = None) -> None:
        """Fix grids from the attribute ranges, set the context bounds, create the mask."""
        ch = to_channels({k: v.detach() for k, v in params.items()})
        for name, qz in self.quantizers.items():
            x = ch[name]
            qz.set_range(x.min(0).values, x.max(0).values)
        xyz = params["means"].detach()
        for m in self.entropy.values():
            if isinstance(m, HashGridGaussianModel):
                m.set_bounds(xyz.min(0).values, xyz.max(0).values)
        mk = self.cfg.mask
        k_rest = ch["sh_rest"].shape[1]
        if mk.kind == "learnable" and k_rest:
            self.mask = LearnableMask(len(xyz), mk).to(xyz.device)
        elif mk.kind == "gradient" and k_rest and sh_rest is not None:
            self.grad_mask = GradientMask(mk)
            self.grad_mask.attach(sh_rest, reset=resume_state is None)
        if resume_state is not None:
            self.load_state_dict(resume_state)
        self.started.fill_(True)

    # ---- the simulation ----------------------------------------------------------------
    def forward(self, params: dict[str, torch.Tensor], progress: float = 1.0):
        """Simulated params (same keys/shapes), estimated bits of the constrained attributes
        and the number of elements they cover (a random `rate_sample` of splats in training)."""
        ch = to_channels(params)
        out = dict(ch)
        bits = torch.zeros((), device=params["means"].device)
        elements = 0
        n = len(params["means"])
        rows = None  # an unbiased per-step estimate of the mean rate on a random subset
        if self.training and 0 < self.cfg.rate_sample < n:
            rows = torch.randperm(n, device=params["means"].device)[: self.cfg.rate_sample]
        xyz = params["means"].detach() if rows is None else params["means"].detach()[rows]
        for name, qz in self.quantizers.items():
            out[name] = qz(ch[name])
            if name in self.entropy:
                y = self.symbol_space(name, out[name] if rows is None else out[name][rows])
                m = self.entropy[name]
                b = m.bits(xyz, y) if isinstance(m, HashGridGaussianModel) else m.bits(y)
                bits = bits + b
                elements += y.numel()
        if self.mask is not None:
            self.mask.set_progress(progress)
            m = self.mask() if self.training else self.mask.hard().to(ch["sh_rest"].dtype)
            out["sh_rest"] = out["sh_rest"] * m[:, None]
        res = from_channels(out, params["sh_rest"].shape[1])
        res["means"] = params["means"]
        return res, bits, elements

    def sh_active(self, sh_rest: torch.Tensor) -> torch.Tensor:
        """Bool [N]: which splats keep SH rest (all of them without a mask)."""
        if self.mask is not None:
            return self.mask.hard()
        if self.grad_mask is not None:
            return self.grad_mask.active(sh_rest)
        return torch.ones(len(sh_rest), dtype=torch.bool, device=sh_rest.device)

    def state_for_checkpoint(self) -> dict:
        return {k: v.detach().cpu() for k, v in self.state_dict().items()}


__all__ = ["ATTRIBUTES", "CHANNELS", "CompressionSim", "SimConfig", "SymbolGrid", "from_channels", "to_channels"]
