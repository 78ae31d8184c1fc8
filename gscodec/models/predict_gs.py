"""Predict-GS's representation: anchor features predicted from a Spatial Feature Pool (SFP),
corrected by a per-anchor residual through a Multi-head Gaussian Residual Decoder (MGRD).

Why (paper 003, Sec. 3.2): neighbouring anchors have correlated features, so instead of one
50-dim feature per anchor, a shared binarized hash grid (3D grid + xy/xz/yz planes, the
structure of HAC's context grid, a separate instance) queried at the anchor position and
fused by a 2-layer MLP gives the feature f_c that Scaffold-GS's three MLPs read. Each anchor
keeps only a residual f_r (25 dims, the paper's), which the entropy model codes instead of
the feature; two heads on (f_r, view direction[, distance]) give per-Gaussian corrections of
scale + rotation (7) and opacity + colour (4).

Where the paper is silent, we chose (and say so):
- corrections are added to the three MLPs' outputs *before* their activations (tanh opacity,
  sigmoid scale factor and colour, normalized quaternion), so refined values stay valid;
- the heads' last layers start at zero, so switching the residual on (the "residual" phase
  switch, stage 2) leaves the render unchanged at that step; their hidden width is the
  decoder's (hidden_dim);
- the pool is sized for the scene as HAC's context grid is (entropy.hac.default_config):
  below SMALL_SCENE_POINTS initial points a 7-level grid of 2^11 entries x 2 features and two
  plane levels, else the paper's 12 + 4 levels of 4 features (2^13 / 2^15 entries); its
  bounds are the initial anchors' box padded by one voxel (anchors grown outside are clamped);
- learning rates: pool and fusion MLP as HAC's hash grid (lr_entropy -> lr_entropy_final),
  heads as the colour MLP;
- the binarized tables go into the stream as packed sign bits (1 bit per entry; their
  Bernoulli entropy, which is what enters the rate term, is at most that).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from gscodec.entropy.hac import SMALL_SCENE_POINTS, default_config
from gscodec.entropy.hashgrid import (
    HAC_2D_RESOLUTIONS,
    HAC_3D_RESOLUTIONS,
    BinaryHashGrid2D,
    BinaryHashGrid3D,
    HashContext,
)
from gscodec.errors import InputError
from gscodec.models.scaffold import ScaffoldModel, _mlp, register_decoder

RESIDUAL_DIM = 25
PAPER_POOL = {"grid3d_resolutions": list(HAC_3D_RESOLUTIONS), "grid3d_table_log2": 13,
              "grid2d_resolutions": list(HAC_2D_RESOLUTIONS), "grid2d_table_log2": 15, "features_per_level": 4}
POOL_KEYS = tuple(PAPER_POOL)
SMALL_POOL = {k: v for k, v in default_config(0).items() if k in POOL_KEYS}  # HAC's small-scene grid
MAX_POOL_ENTRIES = 1 << 24


def pool_config(n_points: int) -> dict:
    return dict(SMALL_POOL if n_points < SMALL_SCENE_POINTS else PAPER_POOL)


def make_pool(cfg: dict) -> HashContext:
    """The SFP from its config (refused with one line when malformed or oversized)."""
    try:
        if set(cfg) != set(POOL_KEYS):
            raise ValueError(f"keys {sorted(cfg)}")
        r3, r2 = [int(r) for r in cfg["grid3d_resolutions"]], [int(r) for r in cfg["grid2d_resolutions"]]
        t3, t2, f = int(cfg["grid3d_table_log2"]), int(cfg["grid2d_table_log2"]), int(cfg["features_per_level"])
        if not (1 <= len(r3) <= 16 and 1 <= len(r2) <= 8 and 1 <= f <= 8 and 1 <= t3 <= 20 and 1 <= t2 <= 20):
            raise ValueError("sizes out of range")
        if ((len(r3) << t3) + 3 * (len(r2) << t2)) * f > MAX_POOL_ENTRIES:
            raise ValueError("too many entries")
        return HashContext(BinaryHashGrid3D(len(r3), r3, t3, f), [BinaryHashGrid2D(len(r2), r2, t2, f) for _ in range(3)])
    except (TypeError, ValueError, KeyError) as e:
        raise InputError(f"Predict-GS feature-pool config is invalid ({e}): {cfg!r}"[:300]) from None


def _zero_out(mlp: nn.Sequential) -> nn.Sequential:
    last = [m for m in mlp if isinstance(m, nn.Linear)][-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return mlp


@register_decoder
class PredictGSModel(ScaffoldModel):
    """features = the residual f_r [N, 25]; the MLPs read f_c = mlp_fuse(pool(anchor)) [N, pred_dim]."""

    FORMAT: ClassVar[str] = "predict-gs"
    VERSION: ClassVar[int] = 1
    NETWORKS: ClassVar[tuple[str, ...]] = ("pool", "mlp_fuse", "mlp_shape", "mlp_appearance")

    def __init__(self, anchors, features, scaling, offsets, mask_logits, *, voxel_size: float, pred_dim: int,
                 pool: dict, pool_bounds=None, use_dist: bool = False, hidden_dim: int | None = None,
                 mask_threshold: float = 0.01, seed: int = 0, residual: bool = True):
        super().__init__(anchors, features, scaling, offsets, mask_logits, voxel_size=voxel_size, use_dist=use_dist,
                         hidden_dim=hidden_dim, mask_threshold=mask_threshold, seed=seed, mlp_feat_dim=pred_dim)
        k, r = self.n_offsets, self.feat_dim
        self.pred_dim, self.pool_cfg, self.residual = int(pred_dim), dict(pool), bool(residual)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            self.pool = make_pool(self.pool_cfg)
            self.mlp_fuse = _mlp(self.pool.out_dim, self.pred_dim, self.pred_dim, nn.Identity())
            n_in = r + 3 + int(self.use_dist)
            self.mlp_shape = _zero_out(_mlp(n_in, self.hidden_dim, 7 * k, nn.Identity()))
            self.mlp_appearance = _zero_out(_mlp(n_in, self.hidden_dim, 4 * k, nn.Identity()))
        if pool_bounds is None:
            a = self.anchors
            pool_bounds = ((a.min(0).values - voxel_size).tolist(), (a.max(0).values + voxel_size).tolist()) \
                if len(a) else ([0.0] * 3, [1.0] * 3)
        self.pool.set_bounds(*pool_bounds)

    @classmethod
    def from_points(cls, points, *, feat_dim: int = 50, seed: int = 0, **kw) -> PredictGSModel:
        """Scaffold-GS's initialisation with a RESIDUAL_DIM residual (zero) per anchor; feat_dim is
        the predicted feature's width; the pool is sized by the number of points."""
        base = ScaffoldModel.from_points(points, feat_dim=RESIDUAL_DIM, seed=seed, **kw)
        n = len(np.asarray(getattr(points, "xyz", points)))
        return cls(base.anchors, base.features, base.scaling, base.offsets, base.mask_logits,
                   voxel_size=base.voxel_size, pred_dim=feat_dim, pool=pool_config(n), use_dist=base.use_dist,
                   hidden_dim=feat_dim, mask_threshold=base.mask_threshold, seed=seed, residual=False)

    @classmethod
    def coded_feat_dim(cls, feat_dim: int) -> int:
        return RESIDUAL_DIM

    # ---- the seams of ScaffoldModel ------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {**super().networks(), **{n: getattr(self, n) for n in self.NETWORKS}}

    def network_lr(self, name: str, cfg) -> tuple[float, float]:
        if name in ("pool", "mlp_fuse"):
            return cfg.lr_entropy, cfg.lr_entropy_final
        if name in ("mlp_shape", "mlp_appearance"):
            return cfg.lr_mlp_color, cfg.lr_mlp_color_final
        return super().network_lr(name, cfg)

    def on_switches(self, on: frozenset) -> None:
        self.residual = "residual" in on  # stage 2 (paper Sec. 3.3)

    def rate_term(self) -> torch.Tensor:
        return self.pool_bits() / (max(len(self), 1) * (self.feat_dim + 6 + 3 * self.n_offsets))

    def pool_bits(self) -> torch.Tensor:
        """Bernoulli entropy of the pool's signs, in bits (as HAC prices its hash grid)."""
        return self.pool.sign_bits()

    def predicted(self, anchors: torch.Tensor) -> torch.Tensor:
        """f_c at anchor positions [..., 3] -> [..., pred_dim]."""
        flat = anchors.reshape(-1, 3)
        return self.mlp_fuse(self.pool(flat)).reshape(*anchors.shape[:-1], self.pred_dim)

    def decode(self, features, view_dirs, dists=None, anchors=None):
        if anchors is None:
            raise InputError("Predict-GS decodes from anchor positions; decode() needs anchors=")
        k = self.n_offsets
        view = self.view_input(view_dirs, dists)
        x = torch.cat([self.predicted(anchors), *view], -1)
        opacity = self.mlp_opacity[:-1](x)  # before tanh
        cov = self.mlp_cov(x).reshape(*x.shape[:-1], k, 7)
        color = self.mlp_color[:-1](x).reshape(*x.shape[:-1], k, 3)  # before sigmoid
        if self.residual:
            xr = torch.cat([features, *view], -1)
            cov = cov + self.mlp_shape(xr).reshape(*x.shape[:-1], k, 7)
            da = self.mlp_appearance(xr).reshape(*x.shape[:-1], k, 4)
            opacity, color = opacity + da[..., 0], color + da[..., 1:]
        return (torch.tanh(opacity), torch.sigmoid(cov[..., :3]), nn.functional.normalize(cov[..., 3:], dim=-1),
                torch.sigmoid(color))

    # ---- plain data ----------------------------------------------------------------------
    def decoder_config(self) -> dict:
        return {**super().decoder_config(), "pred_dim": self.pred_dim, "pool": self.pool_cfg,
                "pool_bounds": [self.pool.lo.tolist(), self.pool.hi.tolist()],
                "mlps": {**super().decoder_config()["mlps"], "mlp_fuse": "linear-relu-linear",
                         "mlp_shape": "linear-relu-linear", "mlp_appearance": "linear-relu-linear"}}

    def decoder_state(self) -> dict[str, torch.Tensor]:
        """As the base, with the pool's tables binarized (+-1: stored as one bit each)."""
        state = super().decoder_state()
        for key in [k for k in state if k.startswith("pool.") and k.endswith("table")]:
            state[key] = torch.where(state[key] >= 0, 1.0, -1.0)
        state.pop("pool.lo", None), state.pop("pool.hi", None)  # in decoder_config
        return state

    def load_networks(self, state: dict[str, torch.Tensor]) -> None:
        lo, hi = self.pool.lo.clone(), self.pool.hi.clone()
        super().load_networks({**state, "pool.lo": lo, "pool.hi": hi})

    @classmethod
    def _format_kwargs(cls, cfg: dict) -> dict:
        try:
            pred, bounds = int(cfg["pred_dim"]), [[float(v) for v in b] for b in cfg["pool_bounds"]]
            if not 1 <= pred <= 1024 or len(bounds) != 2 or any(len(b) != 3 for b in bounds):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise InputError("Predict-GS decoder_config lacks a valid pred_dim / pool_bounds") from None
        return {"pred_dim": pred, "pool": cfg.get("pool") or {}, "pool_bounds": bounds,
                "hidden_dim": int(cfg.get("hidden_dim", pred))}


__all__ = ["PAPER_POOL", "RESIDUAL_DIM", "SMALL_POOL", "PredictGSModel", "make_pool", "pool_config"]
