"""HAC's entropy model: hash-grid context -> per-anchor Gaussians and adaptive steps.

Why: anchors of a Scaffold-GS scene are spatially coherent, so a small binarized hash grid
(HashContext, 96 dims with HAC's defaults) queried at an anchor's position predicts the
mean and scale of its feature (F), scaling (6) and offsets (3k) well, plus one step-adjust
scalar per group: Q = Q0 * (1 + tanh(adj)) (floored at q_min * Q0 so a saturated tanh
never gives a zero step). The bits are the Gaussian bin mass over [y - Q/2, y + Q/2]
(GaussianConditional, likelihood floored at 1e-6, as HAC).

Two faces (as in CompressAI; docs/determinism.md for the coding face):
* training: forward(..., mode) returns quantization-simulated attributes and bit estimates
  (float32, any device, differentiable);
* coding: coder_inputs(anchors, features_hat) returns per-group (mean, scale, Q) in
  float64 numpy (coder_heads + coder_feature_chunk for chunk-by-chunk decoding),
  computed on the CPU by a fixed-order code path (hash grid in float64 torch, the MLP as
  explicit column-by-column accumulations, no BLAS), so encoder and decoder agree bit for
  bit; estimate_bits() evaluates the training formula on the final symbols.

Scaling domain: AnchorScene keeps log-scales; cfg.scaling_domain "log" codes those with
step Q0_scaling (relative precision), "exp" codes exp(scaling) as HAC does (absolute step in
scene units; a value that rounds to 0 decodes to SCALE_FLOOR). HacOutput.scaling and decoded
scenes are log-scales either way.

Scale: softplus of the MLP output (clamped at 1e-9). HAC clamps the raw output; softplus
keeps an untrained model's rates finite.

Channel-wise feature context (HAC's, simplified): the feature channels are split into
chunks (HAC: 25, 10, 15); chunk i's mean and raw scale are refined by a small MLP
(i_start -> 2d -> ReLU -> 2d, zero-initialized) of the quantized chunks before it, so the
decoder decodes chunk by chunk. HAC uses a two-Gaussian mixture there; this is one
Gaussian per channel (what the ANS coder's quantized Gaussian codes exactly).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gscodec.coding import ans
from gscodec.coding.container import Section
from gscodec.coding.stream import need
from gscodec.entropy import replay
from gscodec.entropy.anchor_model import (
    GROUPS,
    AnchorEntropyModel,
    AnchorRate,
    CodingUnit,
    UnitParams,
)
from gscodec.entropy.gaussian import SCALE_MIN, GaussianConditional
from gscodec.entropy.hashgrid import (
    HAC_2D_RESOLUTIONS,
    HAC_3D_RESOLUTIONS,
    BinaryHashGrid2D,
    BinaryHashGrid3D,
    HashContext,
)
from gscodec.errors import CorruptStreamError, InputError
from gscodec.simulate.quantize import simulate_quantization, train_or_round
from gscodec.utils.config import ConfigBase

MODES = ("plain", "noise", "context")
SCALING_DOMAINS = ("log", "exp")
SCALE_FLOOR = 1e-7  # exp-domain scales that round to <= 0 decode to this scale (log: -16.1)
MAX_HASH_BITS = 1 << 25  # a stream declaring a larger grid is refused


SMALL_SCENE_POINTS = 50_000  # below: the small-scene sizes here and in train.anchor_run


def default_config(n_points: int) -> dict:
    """HAC's published hash grid (2^13 x 12 levels + 3 planes of 2^15 x 4) costs ~1.9 Mbit
    before entropy coding: right for 100k+ anchors, the largest part of a small scene's file.
    Below 50k initial points we use a grid sized like the static model's and a 32-wide context
    MLP (HAC's 100-wide one alone is ~93 KB in float32), a documented departure. Scaling is
    quantized in the exp (activated) domain with Q0 = 0.001, as HAC does."""
    base = {"scaling_domain": "exp"}
    if n_points >= SMALL_SCENE_POINTS:
        return base
    return {**base, "grid3d_resolutions": [8, 12, 18, 27, 40, 60, 90], "grid3d_table_log2": 11,
            "grid2d_resolutions": [32, 64], "grid2d_table_log2": 11, "features_per_level": 2, "hidden": 32}


def default_chunks(feat_dim: int) -> tuple[int, ...]:
    """HAC's channel-context split (25, 10, 15 of 50) in proportion for any width (32 ->
    16, 6, 10); below 10 channels one chunk (no channel context)."""
    if feat_dim < 10:
        return (feat_dim,)
    a, b = round(feat_dim / 2), round(feat_dim / 5)
    return (a, b, feat_dim - a - b)


@dataclass
class HacConfig(ConfigBase):
    """HAC's published defaults; smaller grids for tests. q_min: floor of Q/Q0."""

    WHAT: ClassVar[str] = "HAC config"

    feat_dim: int = 50
    n_offsets: int = 10
    hidden: int = 100
    q0_feature: float = 1.0
    q0_scaling: float = 0.001
    q0_offsets: float = 0.2
    q_min: float = 0.01
    rate_fraction: float = 0.05
    grid3d_resolutions: tuple = HAC_3D_RESOLUTIONS
    grid3d_table_log2: int = 13
    grid2d_resolutions: tuple = HAC_2D_RESOLUTIONS
    grid2d_table_log2: int = 15
    features_per_level: int = 4
    feature_chunks: tuple | None = None  # None: default_chunks(feat_dim), HAC's (25, 10, 15) at 50
    scaling_domain: str = "log"  # "log": code the stored log-scales; "exp": code exp(scaling) as HAC does

    def validate(self) -> HacConfig:
        self.grid3d_resolutions = tuple(int(r) for r in self.grid3d_resolutions)
        self.grid2d_resolutions = tuple(int(r) for r in self.grid2d_resolutions)
        ints = {"feat_dim": (1, 4096), "n_offsets": (1, 1024), "hidden": (1, 4096),
                "grid3d_table_log2": (1, 24), "grid2d_table_log2": (1, 24), "features_per_level": (1, 64)}
        for name, (lo, hi) in ints.items():
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
                raise InputError(f"HacConfig.{name} must be an integer in {lo}..{hi}, got {v!r}")
        for name in ("q0_feature", "q0_scaling", "q0_offsets"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InputError(f"HacConfig.{name} must be a positive number, got {v!r}")
        if self.scaling_domain not in SCALING_DOMAINS:
            raise InputError(f"HacConfig.scaling_domain must be one of {SCALING_DOMAINS}, got {self.scaling_domain!r}")
        if not 0 < self.q_min <= 1:
            raise InputError(f"HacConfig.q_min must lie in (0, 1], got {self.q_min!r}")
        if not 0 < self.rate_fraction <= 1:
            raise InputError(f"HacConfig.rate_fraction must lie in (0, 1], got {self.rate_fraction!r}")
        if self.feature_chunks is None:
            self.feature_chunks = default_chunks(self.feat_dim)
        try:
            self.feature_chunks = tuple(int(c) for c in self.feature_chunks)
        except (TypeError, ValueError):
            raise InputError(f"HacConfig.feature_chunks must be a list of integers, got {self.feature_chunks!r}") from None
        if not 1 <= len(self.feature_chunks) <= 16 or min(self.feature_chunks) < 1 \
                or sum(self.feature_chunks) != self.feat_dim:
            raise InputError(f"HacConfig.feature_chunks {self.feature_chunks} must be 1..16 positive sizes "
                             f"summing to feat_dim={self.feat_dim}")
        for name in ("grid3d_resolutions", "grid2d_resolutions"):
            r = getattr(self, name)
            if not 1 <= len(r) <= 32 or min(r) < 1 or max(r) > 1 << 20:
                raise InputError(f"HacConfig.{name} needs 1..32 resolutions in 1..2^20, got {r}")
        return self

    @property
    def dims(self) -> dict[str, int]:
        return {"feature": self.feat_dim, "scaling": 6, "offsets": 3 * self.n_offsets}

    @property
    def q0(self) -> dict[str, float]:
        return {"feature": float(self.q0_feature), "scaling": float(self.q0_scaling), "offsets": float(self.q0_offsets)}

    @property
    def n_params(self) -> int:
        """Coded parameters per anchor (F + 6 + 3k), HAC's rate normalizer."""
        return sum(self.dims.values())

    def hash_entries(self) -> int:
        """Number of table entries (bits) of the 3D grid and the three planes."""
        n3 = sum(min((r + 1) ** 3, 1 << self.grid3d_table_log2) for r in self.grid3d_resolutions)
        n2 = sum(min((r + 1) ** 2, 1 << self.grid2d_table_log2) for r in self.grid2d_resolutions)
        return (n3 + 3 * n2) * self.features_per_level

    def to_dict(self) -> dict:
        d = asdict(self)
        d["grid3d_resolutions"] = list(self.grid3d_resolutions)
        d["grid2d_resolutions"] = list(self.grid2d_resolutions)
        d["feature_chunks"] = list(self.feature_chunks) if self.feature_chunks is not None else None
        return d

    @property
    def chunk_bounds(self) -> list[tuple[int, int]]:
        """[start, end) of each feature chunk (channel-wise context order)."""
        ends = np.cumsum(self.feature_chunks).tolist()
        return [(e - c, e) for c, e in zip(self.feature_chunks, ends)]

    @property
    def context_dim(self) -> int:
        """Width of the hash-grid context (levels x features per level)."""
        return (len(self.grid3d_resolutions) + 3 * len(self.grid2d_resolutions)) * self.features_per_level

    def prior_param_count(self, context_dim: int) -> int:
        """Weights of the context MLP (HAC's prior)."""
        n_out = 2 * self.n_params + 3
        return context_dim * self.hidden + self.hidden + self.hidden * n_out + n_out

    def mlp_param_count(self, context_dim: int | None = None) -> int:
        """Number of context-MLP + channel-context weights (what the stream stores as float32)."""
        c = context_dim if context_dim is not None else self.context_dim
        total = self.prior_param_count(c)
        for s, e in self.chunk_bounds[1:]:
            h = 2 * (e - s)
            total += s * h + h + h * h + h
        return total



HacOutput = AnchorRate  # the training face's output (the shared AnchorRate)


class HacEntropyModel(AnchorEntropyModel):
    """HAC entropy model over Scaffold-GS anchors (see module docstring)."""

    config_class = HacConfig
    HEADER_KEY = "hac"  # the header entry holding the config

    def __init__(self, cfg: HacConfig | None = None):
        super().__init__()
        self.cfg = cfg = copy.deepcopy(cfg) if cfg is not None else self.config_class()
        cfg.validate()
        fpl = cfg.features_per_level
        g3 = BinaryHashGrid3D(levels=len(cfg.grid3d_resolutions), resolutions=cfg.grid3d_resolutions,
                              table_size_log2=cfg.grid3d_table_log2, features_per_level=fpl)
        planes = [BinaryHashGrid2D(levels=len(cfg.grid2d_resolutions), resolutions=cfg.grid2d_resolutions,
                                   table_size_log2=cfg.grid2d_table_log2, features_per_level=fpl)
                  for _ in HashContext.PLANES]
        self.context = HashContext(g3, planes)
        d = cfg.dims
        self.split = [d["feature"], d["feature"], d["scaling"], d["scaling"], d["offsets"], d["offsets"], 1, 1, 1]
        self.build_prior()
        # channel-wise feature context: chunk i's mean / raw scale refined from chunks < i
        self.chunk_mlps = nn.ModuleList()
        for s, e in cfg.chunk_bounds[1:]:
            h = 2 * (e - s)
            mlp = nn.Sequential(nn.Linear(s, h), nn.ReLU(), nn.Linear(h, h))
            nn.init.zeros_(mlp[2].weight)  # starts as "no refinement"
            nn.init.zeros_(mlp[2].bias)
            self.chunk_mlps.append(mlp)
        self.gaussian = GaussianConditional()
        self.feat_dim, self.n_offsets = cfg.feat_dim, cfg.n_offsets

    @classmethod
    def for_scene(cls, n_points: int, feat_dim: int, n_offsets: int, options: dict | None = None):
        return cls(cls.config_class.from_dict({**default_config(n_points), **(options or {}),
                                               "feat_dim": feat_dim, "n_offsets": n_offsets}))

    def describe(self, anchors=None) -> dict:
        return {"config": self.cfg.to_dict()}

    # ---- set-up ----------------------------------------------------------------------------
    def set_bounds(self, lo, hi) -> None:
        """Bounding box of the (fixed) anchors: the hash grid spans it."""
        self.context.set_bounds(lo, hi)

    def rate_sample(self, n: int, device=None, generator=None) -> torch.Tensor:
        """Indices of a random ~rate_fraction of n anchors (HAC's per-step rate sample)."""
        keep = torch.rand(n, device=device, generator=generator) <= self.cfg.rate_fraction
        return torch.nonzero(keep).squeeze(1)

    # ---- training face ---------------------------------------------------------------------
    def _q(self, adj: torch.Tensor, group: str) -> torch.Tensor:
        return self.cfg.q0[group] * torch.clamp(1 + torch.tanh(adj), min=self.cfg.q_min)

    # ---- the seams a method on HAC's model overrides (e.g. gscodec.entropy.mop) ------------
    def build_prior(self) -> None:
        """HAC's context MLP: context -> hidden -> ReLU -> the split."""
        self.mlp = nn.Sequential(nn.Linear(self.context.out_dim, self.cfg.hidden), nn.ReLU(),
                                 nn.Linear(self.cfg.hidden, sum(self.split)))

    def prior_tensors(self) -> list[torch.Tensor]:
        """The prior's weights in stream order (HAC: w1, b1, w2, b2)."""
        return [self.mlp[0].weight, self.mlp[0].bias, self.mlp[2].weight, self.mlp[2].bias]

    def prior(self, context: torch.Tensor) -> torch.Tensor:
        """Hash-grid context [N, C] -> [N, sum(split) + extra]: HAC's (mean, raw scale) per
        group, then the three step adjusters; columns past sum(split) go to step_factor."""
        return self.mlp(context)

    def prior64(self, context: np.ndarray) -> np.ndarray:
        """prior() on the coding face (float64 fixed-order replay)."""
        return replay.run(self.mlp, context)

    def step_factor(self, extra, group: str):
        """What multiplies HAC's step Q0 (1 + tanh(adj)) of `group`, from the prior's extra
        columns (torch in training, float64 numpy in coding): 1 for HAC."""
        return 1.0

    def _heads(self, anchors: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """group -> (mean, raw scale, Q) from the hash-grid context (before channel context)."""
        out = self.prior(self.context(anchors))
        base = sum(self.split)
        mf, sf, ms, ss, mo, so, af, as_, ao = torch.split(out[:, :base], self.split, dim=1)
        extra = out[:, base:]
        return {g: (m, r, self._q(a, g) * self.step_factor(extra, g))
                for g, m, r, a in (("feature", mf, sf, af), ("scaling", ms, ss, as_), ("offsets", mo, so, ao))}

    def _refine(self, mean: torch.Tensor, raw: torch.Tensor, features_hat: torch.Tensor):
        """Channel-wise context: chunk i's (mean, raw) += MLP_i(decoded chunks < i)."""
        if not len(self.chunk_mlps):
            return mean, raw
        b0 = self.cfg.chunk_bounds[0][1]
        means, raws = [mean[:, :b0]], [raw[:, :b0]]
        for mlp, (s, e) in zip(self.chunk_mlps, self.cfg.chunk_bounds[1:]):
            adj = mlp(features_hat[:, :s])
            means.append(mean[:, s:e] + adj[:, : e - s])
            raws.append(raw[:, s:e] + adj[:, e - s :])
        return torch.cat(means, 1), torch.cat(raws, 1)

    @staticmethod
    def _scale(raw: torch.Tensor) -> torch.Tensor:
        return F.softplus(raw).clamp_min(SCALE_MIN)

    def params(self, anchors: torch.Tensor, features_hat: torch.Tensor | None = None):
        """group -> (mean [N,D], scale [N,D], Q [N,1]) in the module's dtype (training face).
        With a channel context, the feature params need the quantized features_hat (else
        chunks >= 1 get the hash-grid prediction alone)."""
        h = self._heads(anchors)
        mf, rf, qf = h["feature"]
        if features_hat is not None:
            mf, rf = self._refine(mf, rf, features_hat)
        return {"feature": (mf, self._scale(rf), qf),
                **{g: (h[g][0], self._scale(h[g][1]), h[g][2]) for g in ("scaling", "offsets")}}

    def coded_scaling(self, scaling):
        """Stored log-scales -> the values the model codes (themselves, or exp as in HAC);
        torch tensors or float64 numpy."""
        if self.cfg.scaling_domain == "log":
            return scaling
        return torch.exp(scaling) if isinstance(scaling, torch.Tensor) else np.exp(scaling)

    def stored_scaling(self, y):
        """Inverse of coded_scaling (exp-domain values <= 0 become log(SCALE_FLOOR))."""
        if self.cfg.scaling_domain == "log":
            return y
        if isinstance(y, torch.Tensor):
            return torch.log(y.clamp_min(SCALE_FLOOR))
        return np.log(np.maximum(y, SCALE_FLOOR))

    def hash_bits(self) -> torch.Tensor:
        """Bernoulli entropy of the binarized tables, in bits (what coding them costs)."""
        return self.context.sign_bits()

    def forward(self, anchors, features, scaling, offsets, offset_mask, mode: str = "context", sample=None) -> HacOutput:
        if mode not in MODES:
            raise InputError(f"unknown HAC mode {mode!r}; use one of {MODES}")
        n, k = features.shape[0], offsets.shape[1]
        zero = features.new_zeros(())
        zeros = {g: zero for g in GROUPS + ("hash",)}
        if mode == "plain":
            return HacOutput(features, scaling, offsets, zeros, zero)
        ys = {"feature": features, "scaling": self.coded_scaling(scaling), "offsets": offsets.reshape(n, 3 * k)}
        if mode == "noise":
            q = self.cfg.q0
            out = {g: simulate_quantization(y, q[g], train_or_round(self.training)) for g, y in ys.items()}
            return HacOutput(out["feature"], self.stored_scaling(out["scaling"]), out["offsets"].reshape(n, k, 3),
                             zeros, zero)
        heads = self._heads(anchors.detach())
        out = {}
        for g, y in ys.items():
            q = heads[g][2]
            out[g] = simulate_quantization(y, q, train_or_round(self.training))
        mf, rf = self._refine(heads["feature"][0], heads["feature"][1], out["feature"])
        prm = {"feature": (mf, self._scale(rf), heads["feature"][2]),
               **{g: (heads[g][0], self._scale(heads[g][1]), heads[g][2]) for g in ("scaling", "offsets")}}
        idx = slice(None) if sample is None else sample
        m = offset_mask.to(features.dtype)
        m = m[idx].unsqueeze(-1).expand(-1, -1, 3).reshape(m[idx].shape[0], 3 * k)
        bits = {}
        for g in GROUPS:
            mean, scale, q = (t[idx] for t in prm[g])
            b = -torch.log2(self.gaussian.likelihood(out[g][idx], mean, scale, q))
            bits[g] = (b * m).sum() if g == "offsets" else b.sum()
        bits["hash"] = self.hash_bits()
        ns = out["feature"][idx].shape[0]
        denom_s = max(ns, 1) * self.cfg.n_params
        rate = (bits["feature"] + bits["scaling"] + bits["offsets"]) / denom_s + bits["hash"] / (max(n, 1) * self.cfg.n_params)
        return HacOutput(out["feature"], self.stored_scaling(out["scaling"]), out["offsets"].reshape(n, k, 3), bits, rate)

    # ---- coding face -----------------------------------------------------------------------
    def mlp_tensors(self) -> list[torch.Tensor]:
        """The prior (prior_tensors) then each chunk MLP's (w1, b1, w2, b2): stream order."""
        ts = list(self.prior_tensors())
        for m in self.chunk_mlps:
            ts += [m[0].weight, m[0].bias, m[2].weight, m[2].bias]
        return ts

    def mlp_bytes(self) -> bytes:
        """Context MLP weights as little-endian float32 (the stream's precision for them)."""
        return b"".join(t.detach().cpu().to(torch.float32).numpy().astype("<f4").tobytes() for t in self.mlp_tensors())

    def mlp_nbytes(self) -> int:
        return 4 * sum(t.numel() for t in self.mlp_tensors())

    @torch.no_grad()
    def load_mlp_bytes(self, data: bytes) -> None:
        if len(data) != self.mlp_nbytes():
            raise InputError(f"context MLP needs {self.mlp_nbytes()} bytes, got {len(data)}")
        off = 0
        for t in self.mlp_tensors():
            a = np.frombuffer(data, "<f4", count=t.numel(), offset=off)
            t.copy_(torch.from_numpy(a.astype(np.float32)).reshape(t.shape))
            off += 4 * t.numel()

    @torch.no_grad()
    def context64(self, anchors, chunk: int = 65536) -> np.ndarray:
        """[N, C] hash-grid context of positions on the coding face (float64 on the CPU)."""
        xyz = torch.as_tensor(np.asarray(anchors.detach().cpu() if isinstance(anchors, torch.Tensor) else anchors),
                              dtype=torch.float64)
        ctx_mod = copy.deepcopy(self.context).to("cpu", torch.float64)
        outs = [ctx_mod(xyz[s : s + chunk]).numpy() for s in range(0, xyz.shape[0], chunk)]
        return np.concatenate(outs, 0) if outs else np.zeros((0, self.context.out_dim))

    @torch.no_grad()
    def coder_heads(self, anchors, chunk: int = 65536) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """group -> (mean, raw scale, Q [N,1]) float64 numpy from the hash-grid context.
        Deterministic CPU path: float64 hash grid, column-order MLP, numpy activations."""
        out = self.prior64(self.context64(anchors, chunk))
        base = sum(self.split)
        parts = np.split(out[:, :base], np.cumsum(self.split)[:-1], axis=1)
        res = {"extra": out[:, base:], "q_base": {}}  # the prior's extra columns; steps before step_factor
        for i, g in enumerate(GROUPS):
            q = self.cfg.q0[g] * np.maximum(1.0 + np.tanh(parts[6 + i]), self.cfg.q_min)
            res["q_base"][g] = q
            res[g] = (parts[2 * i], parts[2 * i + 1], q * self.step_factor(res["extra"], g))
        return res

    @torch.no_grad()
    def coder_feature_chunk(self, heads, prefix: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(mean, scale) float64 of feature chunk i given the decoded features of chunks < i
        (prefix [N, start_i]); encoder and decoder both call this with the same prefix."""
        s, e = self.cfg.chunk_bounds[i]
        mean, raw = heads["feature"][0][:, s:e], heads["feature"][1][:, s:e]
        if i > 0:
            adj = replay.run(self.chunk_mlps[i - 1], prefix)
            mean, raw = mean + adj[:, : e - s], raw + adj[:, e - s :]
        return mean, np.maximum(replay.softplus64(raw), SCALE_MIN)

    def coder_inputs(self, anchors, features_hat=None, heads=None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """group -> (mean [N,D], scale [N,D], Q [N,1]) float64 numpy, for the coder. With a
        channel context (more than one feature chunk) features_hat (the decoded features,
        k*Q) is required; chunk by chunk decoding uses coder_heads + coder_feature_chunk."""
        h = heads if heads is not None else self.coder_heads(anchors)
        if features_hat is None and len(self.cfg.feature_chunks) > 1:
            raise InputError("with a channel-wise feature context, coder_inputs needs features_hat")
        n = h["feature"][0].shape[0]
        fh = np.asarray(features_hat, np.float64).reshape(n, self.cfg.feat_dim) if features_hat is not None else None
        parts = [self.coder_feature_chunk(h, fh[:, :s] if fh is not None else None, i)
                 for i, (s, _) in enumerate(self.cfg.chunk_bounds)]
        res = {"feature": (np.concatenate([p[0] for p in parts], 1), np.concatenate([p[1] for p in parts], 1),
                           h["feature"][2])}
        for g in ("scaling", "offsets"):
            res[g] = (h[g][0], np.maximum(replay.softplus64(h[g][1]), SCALE_MIN), h[g][2])
        return res

    @torch.no_grad()
    def estimate_bits(self, anchors, features, scaling, offsets, offset_mask, params=None) -> dict[str, float]:
        """The model's bits for the final symbols round(y/Q) (training formula, float64):
        what the codec's coded size should match. params: coder_inputs(...) if known."""
        n = int(np.asarray(features).shape[0])
        ys = {"feature": features, "scaling": scaling, "offsets": offsets}
        ys = {g: np.asarray(ys[g].detach().cpu() if isinstance(ys[g], torch.Tensor) else ys[g], np.float64)
              .reshape(n, self.cfg.dims[g]) for g in GROUPS}
        ys["scaling"] = self.coded_scaling(ys["scaling"])
        if params is None:
            h = self.coder_heads(anchors)
            params = self.coder_inputs(anchors, np.round(ys["feature"] / h["feature"][2]) * h["feature"][2], heads=h)
        mask = np.repeat(np.asarray(offset_mask, bool).reshape(n, self.cfg.n_offsets), 3, axis=1)
        res = {}
        for g in GROUPS:
            y = torch.from_numpy(ys[g])
            mean, scale, q = (torch.from_numpy(np.ascontiguousarray(a)) for a in params[g])
            y_hat = torch.round(y / q) * q
            b = -torch.log2(self.gaussian.likelihood(y_hat, mean, scale, q))
            res[g] = float(b[torch.from_numpy(mask)].sum() if g == "offsets" else b.sum())
        res["hash"] = float(self.hash_bits())
        return res

    # ---- the AnchorEntropyModel coding interface (gscodec.codecs.anchor drives it) --------
    def to_coded(self, group: str, values):
        return self.coded_scaling(values) if group == "scaling" else values

    def from_coded(self, group: str, values):
        return self.stored_scaling(values) if group == "scaling" else values

    def coding_units(self, context=None) -> list[CodingUnit]:
        """Feature chunks in channel-context order, then scaling, then offsets."""
        units = [CodingUnit("feature", i, s, e) for i, (s, e) in enumerate(self.cfg.chunk_bounds)]
        return units + [CodingUnit("scaling", 0, 0, 6), CodingUnit("offsets", 0, 0, 3 * self.cfg.n_offsets)]

    def coding_context(self, anchors):
        return self.coder_heads(anchors)

    def unit_params(self, unit: CodingUnit, context, decoded) -> UnitParams:
        if unit.group == "feature":
            mean, scale = self.coder_feature_chunk(context, decoded["feature"][:, : unit.start], unit.index)
            q = context["feature"][2]  # [N, 1], or per channel [N, F] (e.g. MoP's weights): this chunk's
            return UnitParams(mean, scale, q if q.shape[1] == 1 else q[:, unit.start : unit.end])
        mean, raw, q = context[unit.group]
        return UnitParams(mean, np.maximum(replay.softplus64(raw), SCALE_MIN), q)

    @torch.no_grad()
    def side_bits(self) -> dict[str, float]:
        return {"hash": float(self.hash_bits())}

    def stream_state(self, dtype: str) -> tuple[dict, list[Section]]:
        """Hash bits (one Bernoulli probability) and the context MLPs at `dtype` (float16 halves
        their share of a small scene's file; weights float16 cannot hold stay float32)."""
        hb = self.context.bits_payload()
        f32 = self.mlp_bytes()
        data, stored = f32, "float32"
        if dtype == "float16":
            h = np.frombuffer(f32, "<f4").astype("<f2")
            if np.all(np.isfinite(h)):
                data, stored = h.tobytes(), "float16"
        bounds = [self.context.lo.detach().cpu().float().tolist(), self.context.hi.detach().cpu().float().tolist()]
        header = {self.HEADER_KEY: self.cfg.to_dict(), "context_bounds": bounds, "hash_p": hb.p, "context_dtype": stored}
        return header, [Section("hash", "ans-bernoulli", hb.payload),
                        Section("mlp_context", "raw-f16" if stored == "float16" else "raw-f32", data)]

    @classmethod
    def from_stream(cls, header: dict, sections: dict) -> HacEntropyModel:
        try:
            cfg = cls.config_class.from_dict(header.get(cls.HEADER_KEY))
        except InputError as e:
            raise CorruptStreamError(f"{cls.HEADER_KEY} header: {e}") from None
        if cfg.hash_entries() > MAX_HASH_BITS:
            raise CorruptStreamError(f"hac header: hash grid of {cfg.hash_entries()} entries is beyond the limit")
        try:
            lo, hi = (np.asarray(b, np.float32).reshape(3) for b in header["context_bounds"])
            p = float(header["hash_p"])
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptStreamError(f"hac header: context bounds or hash probability malformed ({e!r})") from None
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or not 0 <= p <= 1:
            raise CorruptStreamError("hac header: context bounds not finite or hash probability outside 0..1")
        dtype = header.get("context_dtype", "float32")
        if dtype not in ("float16", "float32"):
            raise CorruptStreamError(f"hac header: unknown context MLP precision {dtype!r}")
        raw = need(sections, "mlp_context")
        if len(raw) != (2 if dtype == "float16" else 4) * cfg.mlp_param_count():
            raise CorruptStreamError(f"mlp_context holds {len(raw)} bytes, the config needs "
                                     f"{(2 if dtype == 'float16' else 4) * cfg.mlp_param_count()}")
        with torch.random.fork_rng(devices=[]):
            m = cls(cfg)
        m.context.load_bits(ans.decode_bits(need(sections, "hash"), p, cfg.hash_entries()))
        m.set_bounds(lo, hi)
        m.load_mlp_bytes(np.frombuffer(raw, "<f2").astype("<f4").tobytes() if dtype == "float16" else raw)
        return m.eval()


__all__ = ["GROUPS", "SCALE_FLOOR", "HacConfig", "default_config", "HacEntropyModel", "HacOutput"]
