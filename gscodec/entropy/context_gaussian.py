"""Per-point Gaussian entropy model with a hash-grid context (HAC's model, for plain 3DGS).

Why: GSCodec Studio's second entropy-constraint option. Each splat's attribute values get
their own Gaussian N(mean, scale) predicted from a binarized hash grid queried at the
splat's position plus a small MLP. Positions are coded first, so the decoder can rebuild
the same parameters. Values live in symbol space (quantization step 1), as in the
factorized model.

The grid is configurable and small by default: a 3DGS scene has one context query per
splat and the grid's bits travel in the stream (HAC's 2M-entry grid would outweigh a small
scene). Coding face: `coder_params` evaluates grid + MLP in float64 on the CPU from the
decoded positions and the weights as stored, on both sides (docs/determinism.md).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from gscodec.entropy.gaussian import GaussianConditional
from gscodec.entropy.hashgrid import BinaryHashGrid2D, BinaryHashGrid3D, HashContext
from gscodec.utils.config import ConfigBase


@dataclass
class ContextGridConfig(ConfigBase):
    WHAT: ClassVar[str] = "context grid config"
    levels_3d: int = 6
    resolutions_3d: tuple = (8, 12, 18, 27, 40, 60)
    table_log2_3d: int = 10
    levels_2d: int = 2
    resolutions_2d: tuple = (32, 64)
    table_log2_2d: int = 10
    features_per_level: int = 2
    hidden: int = 32

    def make_context(self) -> HashContext:
        g3 = BinaryHashGrid3D(self.levels_3d, tuple(self.resolutions_3d), self.table_log2_3d, self.features_per_level)
        planes = [BinaryHashGrid2D(self.levels_2d, tuple(self.resolutions_2d), self.table_log2_2d,
                                   self.features_per_level) for _ in HashContext.PLANES]
        return HashContext(g3, planes)


class HashGridGaussianModel(nn.Module):
    """forward(xyz [N,3], y [N,C]) -> bits (scalar): -log2 of the unit-bin mass of y under
    N(mean(xyz), scale(xyz)); y is already quantization-simulated (noise or STE)."""

    def __init__(self, channels: int, cfg: ContextGridConfig | None = None):
        super().__init__()
        self.cfg = cfg or ContextGridConfig()
        self.channels = int(channels)
        self.context = self.cfg.make_context()
        self.mlp = nn.Sequential(nn.Linear(self.context.out_dim, self.cfg.hidden), nn.ReLU(),
                                 nn.Linear(self.cfg.hidden, 2 * self.channels))
        self.conditional = GaussianConditional()

    def set_bounds(self, lo, hi) -> None:
        self.context.set_bounds(lo, hi)

    def params(self, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.mlp(self.context(xyz))
        mean, raw = out[:, : self.channels], out[:, self.channels:]
        return mean, nn.functional.softplus(raw) + 1e-3

    def bits(self, xyz: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        mean, scale = self.params(xyz)
        return self.conditional.bits(y, mean, scale, 1.0)

    @torch.no_grad()
    def coder_params(self, xyz) -> tuple[np.ndarray, np.ndarray]:
        """(mean, scale) [N, C] float64, computed on a float64 CPU copy of this model."""
        m = copy.deepcopy(self).to("cpu", torch.float64)
        x = torch.as_tensor(np.asarray(xyz), dtype=torch.float64)
        mean, scale = m.params(x)
        return mean.numpy(), scale.numpy()
