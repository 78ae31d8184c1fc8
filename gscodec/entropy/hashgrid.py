"""Binarized multi-resolution hash grids: HAC's spatial context (3D grid + xy/xz/yz planes).

Why binarized: the grid travels in the stream, so HAC stores each table entry as one
sign bit (+-1) and codes all of them with a single Bernoulli probability. Training sees
the same +-1 values (sign forward) with a straight-through gradient (identity, clipped to
|x| <= 1), so the context the decoder rebuilds from the bits is the one trained with.

Indexing follows Instant-NGP / torch-ngp: a level whose (res+1)^D vertices fit the table
is indexed densely; larger levels use the spatial hash XOR_d(c_d * prime_d) mod 2^T with
primes (1, 2654435761, 805459861). Pure torch (int64 arithmetic), so CPU and GPU agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import torch
from torch import nn

from gscodec.coding import ans

PRIMES = (1, 2654435761, 805459861)
HAC_3D_RESOLUTIONS = (18, 24, 33, 44, 59, 80, 108, 148, 201, 275, 376, 514)
HAC_2D_RESOLUTIONS = (130, 258, 514, 1026)


class _SignSTE(torch.autograd.Function):
    """+1 for x >= 0 else -1; gradient passes where |x| <= 1 (HAC's STE_binary)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


def binarize(x: torch.Tensor) -> torch.Tensor:
    return _SignSTE.apply(x)


class BinaryHashGrid(nn.Module):
    """D-dimensional binarized grid: forward(x in [0,1]^D, shape [N, D]) -> [N, L*F],
    level-major (level l's F features at [l*F, (l+1)*F)), linear interpolation of the 2^D
    corner entries of each level."""

    def __init__(self, dim: int, levels: int, resolutions, table_size_log2: int,
                 features_per_level: int = 4, init_range: float = 1e-4):
        super().__init__()
        resolutions = tuple(int(r) for r in resolutions)
        if len(resolutions) != levels or min(resolutions) < 1:
            raise ValueError(f"need {levels} positive resolutions, got {resolutions}")
        if dim > len(PRIMES):
            raise ValueError(f"dim must be <= {len(PRIMES)}")
        self.dim, self.levels, self.resolutions = int(dim), int(levels), resolutions
        self.table_size = 1 << int(table_size_log2)
        self.features_per_level = int(features_per_level)
        sizes = [min((r + 1) ** dim, self.table_size) for r in resolutions]
        self.dense = [(r + 1) ** dim <= self.table_size for r in resolutions]
        self.sizes = sizes
        self.offsets = [int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
        self.table = nn.Parameter(torch.empty(sum(sizes), self.features_per_level).uniform_(-init_range, init_range))

    @property
    def out_dim(self) -> int:
        return self.levels * self.features_per_level

    def _index(self, c: torch.Tensor, level: int) -> torch.Tensor:
        """Table row of integer vertex coordinates c [N, D] at `level` (offset included)."""
        r = self.resolutions[level]
        if self.dense[level]:
            idx = torch.zeros_like(c[:, 0])
            for d in range(self.dim - 1, -1, -1):
                idx = idx * (r + 1) + c[:, d]
        else:
            idx = c[:, 0] * PRIMES[0]
            for d in range(1, self.dim):
                idx = idx ^ (c[:, d] * PRIMES[d])
            idx = idx & (self.table_size - 1)
        return idx + self.offsets[level]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected points of shape [N, {self.dim}], got {list(x.shape)}")
        table = binarize(self.table)
        x = x.clamp(0.0, 1.0)
        outs = []
        for lvl, r in enumerate(self.resolutions):
            pos = x * r
            i0 = torch.floor(pos).clamp(max=r - 1)
            frac = pos - i0
            i0 = i0.to(torch.int64)
            acc = 0
            for corner in product((0, 1), repeat=self.dim):
                off = torch.tensor(corner, dtype=torch.int64, device=x.device)
                sel = torch.tensor(corner, dtype=torch.bool, device=x.device)
                w = torch.where(sel, frac, 1 - frac).prod(1, keepdim=True)
                acc = acc + w * table[self._index(i0 + off, lvl)]
            outs.append(acc)
        return torch.cat(outs, 1)


class BinaryHashGrid3D(BinaryHashGrid):
    def __init__(self, levels: int = 12, resolutions=HAC_3D_RESOLUTIONS, table_size_log2: int = 13,
                 features_per_level: int = 4):
        super().__init__(3, levels, resolutions, table_size_log2, features_per_level)


class BinaryHashGrid2D(BinaryHashGrid):
    def __init__(self, levels: int = 4, resolutions=HAC_2D_RESOLUTIONS, table_size_log2: int = 15,
                 features_per_level: int = 4):
        super().__init__(2, levels, resolutions, table_size_log2, features_per_level)


@dataclass
class HashBits:
    """The grid as sign bits (1 = +1, in parameter order), P(1) as transmitted (float32),
    the ANS payload and its exact size in bits."""

    bits: np.ndarray
    p: float
    payload: bytes
    nbits: int


class HashContext(nn.Module):
    """HAC's context feature: 3D grid (12x4) + xy, xz, yz planes (3 x 4x4) = 96 dims.
    Positions are normalized to [0,1]^3 by the bounds (set_bounds) and clamped."""

    PLANES = ((0, 1), (0, 2), (1, 2))

    def __init__(self, grid3d: BinaryHashGrid3D | None = None, planes: list[BinaryHashGrid2D] | None = None):
        super().__init__()
        self.grid3d = grid3d if grid3d is not None else BinaryHashGrid3D()
        self.planes = nn.ModuleList(planes if planes is not None else [BinaryHashGrid2D() for _ in self.PLANES])
        self.register_buffer("lo", torch.zeros(3))
        self.register_buffer("hi", torch.ones(3))

    @property
    def out_dim(self) -> int:
        return self.grid3d.out_dim + sum(p.out_dim for p in self.planes)

    def set_bounds(self, lo, hi) -> None:
        self.lo.copy_(torch.as_tensor(lo, dtype=self.lo.dtype))
        self.hi.copy_(torch.as_tensor(hi, dtype=self.hi.dtype))

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        u = ((xyz - self.lo) / (self.hi - self.lo).clamp_min(1e-12)).clamp(0, 1)
        feats = [self.grid3d(u)] + [g(u[:, list(ax)]) for g, ax in zip(self.planes, self.PLANES)]
        return torch.cat(feats, 1)

    def _tables(self) -> list[nn.Parameter]:
        return [self.grid3d.table] + [g.table for g in self.planes]

    def sign_bits(self) -> torch.Tensor:
        """Bernoulli entropy of the binarized tables, in bits (what coding their signs with
        one probability costs); differentiable through the sign STE, for a rate term."""
        signs = torch.cat([binarize(t).reshape(-1) for t in self._tables()])
        p = ((signs + 1) / 2).mean().clamp(1e-6, 1 - 1e-6)
        return signs.numel() * -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))

    @torch.no_grad()
    def bits_payload(self) -> HashBits:
        """All table signs as bits, Bernoulli-coded with p = fraction of +1."""
        bits = np.concatenate([(t.detach().cpu().numpy() >= 0).reshape(-1) for t in self._tables()]).astype(np.uint8)
        p = float(np.float32(bits.mean() if bits.size else 0.5))
        payload = ans.encode_bits(bits, p)
        return HashBits(bits, p, payload, 8 * len(payload))

    @torch.no_grad()
    def load_bits(self, bits) -> None:
        """Decoder side: set every table entry to +-1 from the decoded bits."""
        b = np.asarray(bits).reshape(-1)
        n = sum(t.numel() for t in self._tables())
        if b.size != n:
            raise ValueError(f"need {n} hash bits, got {b.size}")
        off = 0
        for t in self._tables():
            chunk = torch.from_numpy(b[off : off + t.numel()].astype(np.float32)).reshape(t.shape)
            t.copy_(chunk * 2 - 1)
            off += t.numel()
