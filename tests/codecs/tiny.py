"""The tiny anchor set-up the codec tests share: an entropy-model config small enough for a
24x24 scene, and a short Scaffold-GS training with a given entropy model."""
from __future__ import annotations

import torch

from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer


def tiny_config(feat_dim: int = 12) -> dict:
    """HAC-family config entries: 2+1 grid levels, 2^8 tables, a 16-wide MLP, 4 offsets."""
    return dict(feat_dim=feat_dim, n_offsets=4, hidden=16, grid3d_resolutions=(8, 16), grid3d_table_log2=8,
                grid2d_resolutions=(16,), grid2d_table_log2=8)


def train_tiny(ds, entropy_model, iterations: int = 60, phases=(), feat_dim: int = 12, **cfg) -> ScaffoldTrainer:
    """`iterations` steps of HAC's schedule (scaled) with `entropy_model` and extra `phases`."""
    torch.manual_seed(0)
    c = ScaffoldConfig.scaled(iterations, voxel_size=0.25, feat_dim=feat_dim, n_offsets=4, **cfg)
    t = ScaffoldTrainer(ds, c, entropy_model=entropy_model, phases=c.phases(phases))
    t.train(progress=False)
    return t
