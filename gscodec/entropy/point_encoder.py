"""HEMGS's scene-agnostic point encoder: a small PointNet++-style network over anchor positions.

Why: HEMGS (paper 001, Sec. 3.3.2) fuses a pre-trained point encoder, which knows how
geometry looks in general and costs the stream nothing, with the scene's own hash grid. The
paper uses PointNet++ weights pretrained "on a 3D domain"; none can be downloaded here, so
this is our own: pretrained by `gscodec.entropy.point_encoder_train` on point sets the project
makes or ships (built-in scenes of other seeds, the shared guitar and small_sh3 clouds; never
the evaluation scenes), frozen, shipped as `weights/point_encoder.npz` (4,352 float32
weights, a 20 KB file; its pretraining report beside it). Results that use it say "scene-agnostic encoder pretrained on our corpus".

Structure (PointNet++'s set abstraction + feature propagation, with voxel-cell grouping in
place of farthest-point sampling and ball query, so that the groups are exact integers):
  SA1: anchors grouped in cells of 4 voxels; per member an MLP of its position relative to
       the cell centroid (in cell units), max-pooled -> a 16-dim cell feature;
  SA2: cells grouped in cells of 16 voxels; per member cell an MLP of (relative centroid,
       its feature, its log count), max-pooled -> 32 dims;
  FP:  each anchor gets its SA1 and SA2 features back with its relative positions, through
       an MLP -> OUT_DIM features.
Everything is in voxel units, so it does not depend on the scene's scale. `features64` is the
coding face (float64, fixed-order replay, exact integer grouping): the same bits on every
machine; `forward` is the torch path the pretraining uses (same structure, tested equal).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gscodec.entropy import replay
from gscodec.errors import InputError

OUT_DIM = 16
CELL1, CELL2 = 4, 16  # voxels per cell side at the two abstraction levels
WEIGHTS = Path(__file__).with_name("weights") / "point_encoder.npz"


@dataclass
class Grouping:
    """The integer structure of one anchor set: cell of each anchor (SA1), cell of each SA1
    cell (SA2), and the relative positions (float64, cell units)."""

    cell1: np.ndarray  # [N] SA1 cell of each anchor
    cell2: np.ndarray  # [M1] SA2 cell of each SA1 cell
    rel1: np.ndarray  # [N, 3] anchor - its SA1 centroid, / CELL1
    rel2: np.ndarray  # [M1, 3] SA1 centroid - its SA2 centroid, / CELL2
    count1: np.ndarray  # [M1] anchors per SA1 cell

    @property
    def m1(self) -> int:
        return len(self.cell2)


def _centroids(x: np.ndarray, cell: np.ndarray, m: int, w: np.ndarray | None = None):
    w = np.ones(len(x)) if w is None else w
    tot = np.bincount(cell, weights=w, minlength=m)
    return np.stack([np.bincount(cell, weights=w * x[:, i], minlength=m) for i in range(3)], 1) / tot[:, None]


def grouping(vox: np.ndarray) -> Grouping:
    """Grouping of integer voxel coordinates [N, 3] (exact: integer cells, bincount sums)."""
    v = np.asarray(vox, np.int64).reshape(-1, 3)
    keys1, cell1 = np.unique(v // CELL1, axis=0, return_inverse=True)
    cell1 = cell1.reshape(-1)
    m1 = len(keys1)
    count1 = np.bincount(cell1, minlength=m1).astype(np.float64)
    c1 = _centroids(v.astype(np.float64), cell1, m1)
    keys2, cell2 = np.unique(keys1 // (CELL2 // CELL1), axis=0, return_inverse=True)
    cell2 = cell2.reshape(-1)
    c2 = _centroids(c1, cell2, len(keys2), count1)
    return Grouping(cell1, cell2, (v - c1[cell1]) / CELL1, (c1 - c2[cell2]) / CELL2, count1)


def _max_pool(e: torch.Tensor, cell: torch.Tensor, m: int) -> torch.Tensor:
    """[m, D] max of the (non-negative) rows of e per cell."""
    return e.new_zeros(m, e.shape[1]).scatter_reduce(0, cell[:, None].expand_as(e), e, "amax", include_self=True)


class PointEncoder(nn.Module):
    """The network (module docstring); `features64` for coding, `forward` for pretraining."""

    def __init__(self):
        super().__init__()
        self.sa1 = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.sa2 = nn.Sequential(nn.Linear(3 + 16 + 1, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.fp = nn.Sequential(nn.Linear(16 + 32 + 6, 32), nn.ReLU(), nn.Linear(32, OUT_DIM))

    # ---- torch (pretraining) -----------------------------------------------------------------
    def forward(self, g: Grouping) -> torch.Tensor:
        dt = self.sa1[0].weight.dtype
        t = {k: torch.as_tensor(getattr(g, k)) for k in ("cell1", "cell2", "rel1", "rel2", "count1")}
        e1 = self.sa1(t["rel1"].to(dt))
        f1 = _max_pool(e1, t["cell1"], g.m1)
        x2 = torch.cat([t["rel2"].to(dt), f1, torch.log1p(t["count1"].to(dt))[:, None] / 4], 1)
        e2 = self.sa2(x2)
        m2 = int(t["cell2"].max()) + 1 if g.m1 else 0
        f2 = _max_pool(e2, t["cell2"], m2)
        x = torch.cat([f1[t["cell1"]], f2[t["cell2"][t["cell1"]]], t["rel1"].to(dt), t["rel2"].to(dt)[t["cell1"]]], 1)
        return self.fp(x)

    # ---- coding face ----------------------------------------------------------------------------
    @torch.no_grad()
    def features64(self, vox: np.ndarray) -> np.ndarray:
        """[N, OUT_DIM] float64 of integer voxel coordinates: the same bits on every machine."""
        g = grouping(vox)
        if not len(g.cell1):
            return np.zeros((0, OUT_DIM))
        e1 = replay.run(self.sa1, g.rel1)
        f1 = np.zeros((g.m1, e1.shape[1]))
        np.maximum.at(f1, g.cell1, e1)  # post-ReLU >= 0: a zero start is exact
        e2 = replay.run(self.sa2, np.concatenate([g.rel2, f1, np.log1p(g.count1)[:, None] / 4], 1))
        f2 = np.zeros((int(g.cell2.max()) + 1, e2.shape[1]))
        np.maximum.at(f2, g.cell2, e2)
        x = np.concatenate([f1[g.cell1], f2[g.cell2[g.cell1]], g.rel1, g.rel2[g.cell1]], 1)
        return replay.run(self.fp, x)

    # ---- the shipped weights -----------------------------------------------------------------
    def weight_arrays(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().to(torch.float32).numpy() for k, v in self.state_dict().items()}

    def fingerprint(self) -> str:
        """sha256 (16 hex) of the float32 weights: a stream names the encoder it was coded with."""
        h = hashlib.sha256()
        for k, v in sorted(self.weight_arrays().items()):
            h.update(k.encode() + np.ascontiguousarray(v, "<f4").tobytes())
        return h.hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        np.savez(path, **self.weight_arrays())

    @classmethod
    def load(cls, path: str | Path = WEIGHTS) -> PointEncoder:
        """The pretrained encoder from the package (no network access), frozen."""
        m = cls()
        try:
            with np.load(path) as z:
                state = {k: torch.from_numpy(np.asarray(z[k], np.float32)) for k in z.files}
            m.load_state_dict(state)
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise InputError(f"{path}: not the pretrained point encoder's weights ({e})") from None
        for p in m.parameters():
            p.requires_grad_(False)
        return m.eval()


_SHIPPED: PointEncoder | None = None


def shipped() -> PointEncoder:
    """The package's pretrained encoder, loaded once."""
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = PointEncoder.load()
    return _SHIPPED


__all__ = ["OUT_DIM", "PointEncoder", "Grouping", "grouping", "shipped", "WEIGHTS"]
