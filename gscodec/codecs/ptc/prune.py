"""Pruning before coding: splats that cannot be seen or are isolated outliers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from gscodec.scene import GaussianScene
from gscodec.utils.config import ConfigBase


@dataclass
class PruneConfig(ConfigBase):
    WHAT: ClassVar[str] = "prune config"
    # opacity below this never passes the rasterizer's 1/255 alpha cut, so it cannot be seen
    min_opacity: float = 1.0 / 255.0
    # KD-tree outlier removal: drop splats whose mean distance to their k nearest neighbours
    # exceeds mean + std_ratio * std of that statistic (0 disables it)
    outlier_std_ratio: float = 0.0
    outlier_k: int = 8


def prune(scene: GaussianScene, cfg: PruneConfig) -> tuple[GaussianScene, dict]:
    keep = torch.ones(len(scene), dtype=torch.bool)
    stats = {"input": len(scene)}
    if cfg.min_opacity > 0:
        logit = math.log(cfg.min_opacity / (1 - cfg.min_opacity))
        low = scene.opacity_logits.cpu() < logit
        keep &= ~low
        stats["low_opacity"] = int(low.sum())
    if cfg.outlier_std_ratio > 0 and int(keep.sum()) > cfg.outlier_k + 1:
        from scipy.spatial import cKDTree

        idx = keep.nonzero().flatten().numpy()
        xyz = scene.means.detach().cpu().numpy()[idx]
        dist, _ = cKDTree(xyz).query(xyz, k=cfg.outlier_k + 1, workers=-1)
        mean_d = dist[:, 1:].mean(1)
        bad = mean_d > mean_d.mean() + cfg.outlier_std_ratio * mean_d.std()
        keep[torch.from_numpy(idx[bad])] = False
        stats["outliers"] = int(bad.sum())
    stats["kept"] = int(keep.sum())
    return (scene if bool(keep.all()) else scene.subset(keep)), stats


__all__ = ["PruneConfig", "prune"]
