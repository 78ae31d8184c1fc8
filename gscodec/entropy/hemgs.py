"""HEMGS's entropy model (paper 001) on the anchor framework: variable-rate steps, a hybrid
hyperprior, progressive coding and an autoregressive context with adaptive selection.

Why: HAC trains one model per rate and conditions an anchor only on the hash grid. HEMGS
(1) takes λ as an input of the step predictor, so one model codes at any rate; (2) fuses a
frozen, scene-agnostic point encoder (gscodec.entropy.point_encoder) with the scene's hash
grid into the prior h; (3) codes location -> feature -> (scaling, offsets), the latter
conditioned on the decoded feature; (4) adds a context from already decoded neighbouring
anchors, chosen adaptively (gscodec.entropy.neighbours: at most `ar_neighbours` nearest in
an `ar_field`^3-voxel cube). It reuses HAC's hash grid, Gaussian bins, plain/noise phases
and stream (hash bits + the networks' weights in `mlp_context`); it has no channel context.

Networks (one 2-layer MLP each, as the paper; sizes from the config):
  h      = ReLU(W [hash context, point features])                    hyperprior (n_experts > 1:
           MoP's mixture of such layers, gscodec.entropy.mixture)
  a_g    = mean over the context of ReLU(W [neighbour's decoded g, relative voxel position]),
           plus log(1 + count): one shared edge MLP per coded group g (feature; scaling+offsets)
  feature:       (mean, scale) = W [h, a_f]
  scaling+offs:  (mean, scale) = W2 ReLU(W1 [h, f_hat, a_lo])        one head for both
  steps:         Q = Q0 max(1 + tanh(base(x)), q_min) 2^(softplus(slope(x)) t), t = log2(λ / λ_ref),
                 x = h (feature) or [h, f_hat] (scaling, offsets); λ_ref the geometric mean
                 of the trained λ (step_form "tanh", the first form: λ inside the tanh, which
                 caps the step at 2 Q0 whatever λ; see _step).
Where the paper is silent or we decided:
- the step predictor: the paper concatenates λ, repeated to the prior's width, to the prior
  and runs an MLP. Repeating a scalar adds nothing a linear layer cannot do with one input,
  and a free MLP need not give larger steps for larger λ; ours is monotone in λ by
  construction (softplus slope), so coding at an untrained λ between two trained ones can
  never shrink the step.
- training λ: one of `lambdas` drawn per iteration (a fair, cheaper estimate of the paper's
  mean over all K per iteration), the rate term weighted by it (`rate_lambda`).
- decode order: 8 interleaved passes by voxel parity, contexts from earlier passes only
  (neighbours module docstring); the stream records the λ it was coded at, the voxel unit
  and the point encoder's fingerprint (a decoder with other weights refuses the stream).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gscodec.entropy import neighbours as nbrs
from gscodec.entropy import replay
from gscodec.entropy.anchor_model import AnchorRate, CodingUnit, UnitParams
from gscodec.entropy.gaussian import SCALE_MIN
from gscodec.entropy.hac import HacConfig, HacEntropyModel
from gscodec.entropy.mixture import MixturePrior, rename_keys
from gscodec.entropy.point_encoder import OUT_DIM, shipped
from gscodec.errors import CorruptStreamError, InputError
from gscodec.simulate.quantize import simulate_quantization, train_or_round

STEP_FORMS = ("scaled", "tanh")
LAMBDA_SPAN = 8.0  # a stream may be coded at λ within [min / 8, max * 8] of the trained ones


@dataclass
class HemgsConfig(HacConfig):
    """HAC's config (no channel context) plus HEMGS's parts; `sa`, `ar`, `ar_neighbours` 0
    (no ACS: all in the field) and `ar_field` give the paper's ablations."""

    WHAT: ClassVar[str] = "HEMGS config"

    lambdas: tuple = (0.002, 0.004, 0.008)
    sa: bool = True
    ar: bool = True
    ar_field: int = 25
    ar_neighbours: int = 20
    ar_dim: int = 8
    lo_hidden: int = 24
    n_experts: int = 1  # > 1: the hyperprior layer is MoP's mixture of experts (the `combined` codec)
    expert_hidden: int | None = None  # the mixture's width; None: iso-parameter with the one-layer prior
    step_form: str = "scaled"  # "scaled": HAC's adaptive step times 2^(s t); "tanh": λ inside the tanh

    def validate(self) -> HemgsConfig:
        super().validate()
        self.feature_chunks = (self.feat_dim,)  # the autoregressive context replaces HAC's channel context
        try:
            self.lambdas = tuple(sorted(float(v) for v in self.lambdas))
        except (TypeError, ValueError):
            raise InputError(f"HemgsConfig.lambdas must be a list of numbers, got {self.lambdas!r}") from None
        if not 1 <= len(self.lambdas) <= 16 or not all(math.isfinite(v) and v > 0 for v in self.lambdas):
            raise InputError(f"HemgsConfig.lambdas needs 1..16 positive numbers, got {self.lambdas}")
        for name in ("sa", "ar"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"HemgsConfig.{name} must be true or false, got {getattr(self, name)!r}")
        for name, lo, hi in (("ar_field", 3, 101), ("ar_neighbours", 0, 256), ("ar_dim", 1, 256),
                             ("lo_hidden", 1, 4096), ("n_experts", 1, 16)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise InputError(f"HemgsConfig.{name} must be an integer in {lo}..{hi}, got {v!r}")
        if self.ar_field % 2 == 0:
            raise InputError(f"HemgsConfig.ar_field must be odd (a cube centred on the anchor), got {self.ar_field}")
        if self.step_form not in STEP_FORMS:
            raise InputError(f"HemgsConfig.step_form must be one of {', '.join(STEP_FORMS)}, got {self.step_form!r}")
        if self.n_experts > 1 and self.expert_hidden is None:
            self.expert_hidden = self.iso_hidden()
        if self.expert_hidden is not None and (not isinstance(self.expert_hidden, int)
                                               or isinstance(self.expert_hidden, bool)
                                               or not 1 <= self.expert_hidden <= 4096):
            raise InputError(f"HemgsConfig.expert_hidden must be an integer in 1..4096, got {self.expert_hidden!r}")
        return self

    @property
    def prior_hidden(self) -> int:
        """Width of h: `hidden` for the paper's one layer, `expert_hidden` for a mixture."""
        return self.hidden if self.n_experts == 1 or self.expert_hidden is None else self.expert_hidden

    def iso_hidden(self) -> int:
        """MoP's rule (gscodec.entropy.mop): the widest mixture whose whole prior holds no more
        weights than the one-layer prior at `hidden` (h feeds every head, so all of them shrink)."""
        budget, h = self._prior_params(self.context_dim, self.hidden, 1), 1
        while h < self.hidden and self._prior_params(self.context_dim, h + 1, self.n_experts) <= budget:
            h += 1
        return h

    @property
    def lambda_ref(self) -> float:
        return float(np.exp(np.mean(np.log(self.lambdas))))

    @property
    def lo_dim(self) -> int:
        return 6 + 3 * self.n_offsets

    def prior_param_count(self, context_dim: int) -> int:
        return self._prior_params(context_dim, self.prior_hidden, self.n_experts)

    def _prior_params(self, context_dim: int, h: int, n_experts: int) -> int:
        f, lo, a, hl = self.feat_dim, self.lo_dim, self.ar_dim, self.lo_hidden
        a1 = a + 1 if self.ar else 0
        p = OUT_DIM if self.sa else 0
        n = MixturePrior.param_count(context_dim + p, h, n_experts) + (h + a1) * 2 * f + 2 * f + h * 2 + 2
        n += (h + f + a1) * hl + hl + hl * 2 * lo + 2 * lo + (h + f) * 4 + 4
        if self.ar:
            n += (f + 3) * a + a + (lo + 3) * a + a
        return n

    def to_dict(self) -> dict:
        return {**super().to_dict(), "lambdas": list(self.lambdas)}


class HemgsEntropyModel(HacEntropyModel):
    """HEMGS (module docstring). Training face: HAC's for plain/noise, its own for context."""

    config_class = HemgsConfig
    HEADER_KEY = "hemgs"
    VARIABLE_RATE = True

    def build_prior(self) -> None:
        cfg, c = self.cfg, self.context.out_dim
        h, f, lo, a, hl = cfg.prior_hidden, cfg.feat_dim, cfg.lo_dim, cfg.ar_dim, cfg.lo_hidden
        a1 = a + 1 if cfg.ar else 0
        self.hyper = MixturePrior(c + (OUT_DIM if cfg.sa else 0), h, cfg.n_experts)  # one expert: Linear + ReLU
        self.head_f = nn.Linear(h + a1, 2 * f)
        self.vr_f = nn.Linear(h, 2)  # base, slope of the feature step
        self.lo_net = nn.Sequential(nn.Linear(h + f + a1, hl), nn.ReLU())
        self.head_lo = nn.Linear(hl, 2 * lo)
        self.vr_lo = nn.Linear(h + f, 4)  # base, slope of the scaling step; of the offsets step
        with torch.no_grad():  # start near q ~ sqrt(λ): adj grows ~0.35 per octave of λ
            for layer, slopes in ((self.vr_f, [1]), (self.vr_lo, [1, 3])):
                layer.weight.mul_(0.1)
                layer.bias.zero_()
                layer.bias[slopes] = -0.87  # softplus(-0.87) = 0.35
        self.ar_f = nn.Sequential(nn.Linear(f + 3, a), nn.ReLU()) if cfg.ar else None
        self.ar_lo = nn.Sequential(nn.Linear(lo + 3, a), nn.ReLU()) if cfg.ar else None
        self.register_buffer("lam", torch.tensor(cfg.lambda_ref, dtype=torch.float64))  # the λ coded at
        self.register_buffer("voxel", torch.tensor(0.0, dtype=torch.float64))  # the unit of the voxel grid
        self._train_lam = None
        self._structure_key, self._structure = None, None

    def __getstate__(self):
        """Pickled (checkpoints, run folders) without the cached neighbour structure."""
        return {**super().__getstate__(), "_structure_key": None, "_structure": None}

    def __setstate__(self, state):
        """Models pickled when the hyperprior was a plain Linear + ReLU load as a one-expert mixture."""
        mods = state.get("_modules", {})
        if isinstance(mods.get("hyper"), nn.Sequential):
            mods["hyper"] = MixturePrior.from_layers(nn.ModuleList([mods["hyper"]]), None)
        super().__setstate__(state)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        rename_keys(state_dict, prefix, {"hyper.0.": "hyper.experts.0.0."})
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def prior_tensors(self) -> list[torch.Tensor]:
        mods = [self.head_f, self.vr_f, self.lo_net[0], self.head_lo, self.vr_lo]
        if self.cfg.ar:
            mods += [self.ar_f[0], self.ar_lo[0]]
        return self.hyper.tensors() + [t for m in mods for t in (m.weight, m.bias)]

    # ---- λ ----------------------------------------------------------------------------------
    def set_lambda(self, lam: float) -> None:
        lam = float(lam)
        lo, hi = self.cfg.lambdas[0] / LAMBDA_SPAN, self.cfg.lambdas[-1] * LAMBDA_SPAN
        if not (math.isfinite(lam) and lo <= lam <= hi):
            raise InputError(f"λ {lam:g} is outside what this HEMGS model can code ({lo:g}..{hi:g}; trained on "
                             f"{', '.join(f'{v:g}' for v in self.cfg.lambdas)})")
        self.lam.fill_(lam)

    def on_step(self, step: int, total: int) -> None:
        """Draw this iteration's λ from the trained set (torch's generator: reproducible)."""
        i = int(torch.randint(len(self.cfg.lambdas), ()))
        self._train_lam = self.cfg.lambdas[i]

    def rate_lambda(self, lam: float) -> float:
        return self._train_lam if (self.training and self._train_lam is not None) else float(self.lam)

    def _t(self) -> float:
        lam = self.rate_lambda(float(self.lam))
        return math.log2(lam / self.cfg.lambda_ref)

    def _step(self, bs, t: float, q0: float):
        """bs [N, 2] (torch or numpy) -> the step, monotone in t = log2(λ / λ_ref):
        "scaled": Q0 max(1 + tanh(base), q_min) 2^(softplus(slope) t), HAC's adaptive step at
        λ_ref scaled by λ; "tanh" (the first form): Q0 max(1 + tanh(base + softplus(slope) t), q_min).
        Why "scaled": HAC's form caps the step at 2 Q0, and on our scenes the trained scaling and
        offsets steps sat at that cap for every λ (the rate of those groups could not follow λ)."""
        if isinstance(bs, np.ndarray):
            slope = replay.softplus64(bs[:, 1:2])
            if self.cfg.step_form == "tanh":
                return q0 * np.maximum(1.0 + np.tanh(bs[:, :1] + slope * t), self.cfg.q_min)
            return q0 * np.maximum(1.0 + np.tanh(bs[:, :1]), self.cfg.q_min) * np.exp2(slope * t)
        slope = F.softplus(bs[:, 1:2])
        if self.cfg.step_form == "tanh":
            return q0 * torch.clamp(1 + torch.tanh(bs[:, :1] + slope * t), min=self.cfg.q_min)
        return q0 * torch.clamp(1 + torch.tanh(bs[:, :1]), min=self.cfg.q_min) * torch.exp2(slope * t)

    # ---- the anchors' structure (voxel grid, passes, contexts, point features) ---------------
    def structure(self, anchors) -> dict:
        """Voxel indices, passes, chosen neighbours and point features of a set of positions
        (float64 numpy, exact integer selection): the same on the encoder and decoder."""
        xyz = np.asarray(anchors.detach().cpu() if isinstance(anchors, torch.Tensor) else anchors, np.float64)
        if float(self.voxel) <= 0:
            from gscodec.models.scaffold import default_voxel_size

            self.voxel.fill_(default_voxel_size(xyz))
        vox = nbrs.voxel_indices(xyz, float(self.voxel))
        passes = nbrs.coding_passes(vox)
        st = {"vox": vox, "passes": passes, "rows": nbrs.pass_rows(passes)}
        if self.cfg.ar:
            nb = nbrs.select_context(vox, passes, self.cfg.ar_field, self.cfg.ar_neighbours)
            half = (self.cfg.ar_field - 1) // 2
            rel = (vox[np.maximum(nb, 0)] - vox[:, None, :]) / half
            st.update(nbrs=nb, rel=np.where(nb[..., None] >= 0, rel, 0.0))
        if self.cfg.sa:
            st["sa"] = shipped().features64(vox)
        return st

    def _train_structure(self, anchors: torch.Tensor) -> dict:
        key = (anchors.shape[0], float(anchors.double().sum()), float((anchors.double() ** 2).sum()))
        if key != self._structure_key:
            st = self.structure(anchors)
            dev = anchors.device
            self._structure = {"nbrs": torch.from_numpy(st["nbrs"]).to(dev) if self.cfg.ar else None,
                               "rel": torch.from_numpy(st["rel"]).float().to(dev) if self.cfg.ar else None,
                               "sa": torch.from_numpy(st["sa"]).float().to(dev) if self.cfg.sa else None}
            self._structure_key = key
        return self._structure

    def _ar(self, net, values: torch.Tensor, st: dict, idx) -> torch.Tensor:
        """Training: the pooled context [len(idx), A + 1] from the quantized neighbour values."""
        nb, rel = st["nbrs"][idx], st["rel"][idx]
        valid = (nb >= 0).to(values.dtype)
        e = net(torch.cat([values[nb.clamp_min(0)], rel.to(values.dtype)], -1)) * valid[..., None]
        count = valid.sum(1, keepdim=True)
        return torch.cat([e.sum(1) / count.clamp_min(1), torch.log1p(count) / math.log1p(nb.shape[1])], 1)

    def _ar64(self, net, values: np.ndarray, ctx: dict, rows) -> np.ndarray:
        """Coding: the same context in float64, summed neighbour by neighbour (fixed order)."""
        nb, rel = ctx["nbrs"][rows], ctx["rel"][rows]
        r, k = nb.shape
        valid = (nb >= 0).astype(np.float64)
        x = np.concatenate([values[np.maximum(nb, 0)], rel], -1).reshape(r * k, -1)
        e = replay.run(net, x).reshape(r, k, -1) * valid[..., None]
        acc = np.zeros((r, e.shape[2]))
        for j in range(k):
            acc += e[:, j]
        count = valid.sum(1, keepdims=True)
        return np.concatenate([acc / np.maximum(count, 1), np.log1p(count) / math.log1p(k)], 1)

    # ---- training face ---------------------------------------------------------------------
    def forward(self, anchors, features, scaling, offsets, offset_mask, mode: str = "context", sample=None):
        if mode != "context":
            return super().forward(anchors, features, scaling, offsets, offset_mask, mode, sample)
        cfg, how = self.cfg, train_or_round(self.training)
        n, k = features.shape[0], offsets.shape[1]
        st = self._train_structure(anchors.detach())
        ctx = self.context(anchors.detach())
        h = self.hyper(torch.cat([ctx, st["sa"]], 1) if cfg.sa else ctx)
        t = self._t()
        qf = self._step(self.vr_f(h), t, cfg.q0_feature)
        f_hat = simulate_quantization(features, qf, how)
        vr = self.vr_lo(torch.cat([h, f_hat], 1))
        qs, qo = self._step(vr[:, :2], t, cfg.q0_scaling), self._step(vr[:, 2:], t, cfg.q0_offsets)
        s_hat = simulate_quantization(self.coded_scaling(scaling), qs, how)
        o_hat = simulate_quantization(offsets.reshape(n, 3 * k), qo, how)
        m = offset_mask.to(features.dtype).unsqueeze(-1).expand(-1, -1, 3).reshape(n, 3 * k)
        idx = torch.arange(n, device=features.device) if sample is None else sample
        hs, fs = h[idx], f_hat[idx]
        if cfg.ar:
            a_f = self._ar(self.ar_f, f_hat, st, idx)
            a_lo = self._ar(self.ar_lo, torch.cat([s_hat, o_hat * m], 1), st, idx)
            pf = self.head_f(torch.cat([hs, a_f], 1))
            plo = self.head_lo(self.lo_net(torch.cat([hs, fs, a_lo], 1)))
        else:
            pf = self.head_f(hs)
            plo = self.head_lo(self.lo_net(torch.cat([hs, fs], 1)))
        lo = cfg.lo_dim
        prm = {"feature": (f_hat[idx], pf[:, : cfg.feat_dim], pf[:, cfg.feat_dim :], qf[idx]),
               "scaling": (s_hat[idx], plo[:, :6], plo[:, lo : lo + 6], qs[idx]),
               "offsets": (o_hat[idx], plo[:, 6:lo], plo[:, lo + 6 :], qo[idx])}
        bits = {}
        for g, (y, mean, raw, q) in prm.items():
            b = -torch.log2(self.gaussian.likelihood(y, mean, self._scale(raw), q))
            bits[g] = (b * m[idx]).sum() if g == "offsets" else b.sum()
        bits["hash"] = self.hash_bits()
        denom = max(len(idx), 1) * cfg.n_params
        rate = (bits["feature"] + bits["scaling"] + bits["offsets"]) / denom + bits["hash"] / (max(n, 1) * cfg.n_params)
        return AnchorRate(f_hat, self.stored_scaling(s_hat), o_hat.reshape(n, k, 3), bits, rate)

    # ---- coding face -----------------------------------------------------------------------
    @torch.no_grad()
    def coding_context(self, anchors):
        st = self.structure(anchors)
        c = self.context64(anchors)
        h = self.hyper.run64(np.concatenate([c, st["sa"]], 1) if self.cfg.sa else c)
        t = math.log2(float(self.lam) / self.cfg.lambda_ref)
        return {**st, "h": h, "t": t, "q_feature": self._step(replay.run(self.vr_f, h), t, self.cfg.q0_feature)}

    def coding_units(self, context=None) -> list[CodingUnit]:
        """Feature pass by pass, then (scaling, offsets) pass by pass; without the
        autoregressive context one unit per group."""
        f, lo = self.cfg.feat_dim, 3 * self.cfg.n_offsets
        if not self.cfg.ar:
            return [CodingUnit("feature", 0, 0, f), CodingUnit("scaling", 0, 0, 6), CodingUnit("offsets", 0, 0, lo)]
        if context is None:
            raise InputError("HEMGS's coding units depend on the anchors: pass coding_context(...)")
        rows = [r for r in context["rows"] if len(r)]
        units = [CodingUnit("feature", i, 0, f, r) for i, r in enumerate(rows)]
        for i, r in enumerate(rows):
            units += [CodingUnit("scaling", i, 0, 6, r), CodingUnit("offsets", i, 0, lo, r)]
        return units

    @torch.no_grad()
    def unit_params(self, unit: CodingUnit, context, decoded) -> UnitParams:
        cfg, rows = self.cfg, unit.anchors
        h = context["h"][rows]
        if unit.group == "feature":
            x = np.concatenate([h, self._ar64(self.ar_f, decoded["feature"], context, rows)], 1) if cfg.ar else h
            p = replay.run(self.head_f, x)
            return UnitParams(p[:, : cfg.feat_dim], np.maximum(replay.softplus64(p[:, cfg.feat_dim :]), SCALE_MIN),
                              context["q_feature"][rows])
        key = ("lo", unit.index)
        if key not in context:  # scaling and offsets of a pass share one evaluation
            fh = decoded["feature"][rows]
            vr = replay.run(self.vr_lo, np.concatenate([h, fh], 1))
            x = [h, fh]
            if cfg.ar:
                x.append(self._ar64(self.ar_lo, np.concatenate([decoded["scaling"], decoded["offsets"]], 1),
                                    context, rows))
            p = replay.run(self.head_lo, replay.run(self.lo_net, np.concatenate(x, 1)))
            context[key] = (p, self._step(vr[:, :2], context["t"], cfg.q0_scaling),
                            self._step(vr[:, 2:], context["t"], cfg.q0_offsets))
        p, qs, qo = context[key]
        lo = cfg.lo_dim
        if unit.group == "scaling":
            return UnitParams(p[:, :6], np.maximum(replay.softplus64(p[:, lo : lo + 6]), SCALE_MIN), qs)
        return UnitParams(p[:, 6:lo], np.maximum(replay.softplus64(p[:, lo + 6 :]), SCALE_MIN), qo)

    # ---- stream ----------------------------------------------------------------------------
    def describe(self, anchors=None) -> dict:
        out = {**super().describe(), "trained_lambdas": list(self.cfg.lambdas), "coded_lambda": float(self.lam)}
        gated = self.hyper.gate is not None and anchors is not None and len(anchors)
        if anchors is None or not (self.cfg.ar or gated):
            return out
        st = self.structure(anchors)  # one neighbour search serves both figures
        if self.cfg.ar:
            out["mean_context_anchors"] = float((st["nbrs"] >= 0).sum(1).mean()) if len(st["nbrs"]) else 0.0
        if gated:  # MoP's Figure 4 figure
            a = torch.as_tensor(np.asarray(anchors.detach().cpu() if isinstance(anchors, torch.Tensor) else anchors),
                                dtype=torch.float32)
            with torch.no_grad():
                ctx = self.context(a.to(self.voxel.device))
                if self.cfg.sa:
                    ctx = torch.cat([ctx, torch.from_numpy(st["sa"]).to(ctx)], 1)
                out["gate_weights"] = [float(v) for v in self.hyper.weights(ctx).mean(0)]
        return out

    def stream_state(self, dtype: str):
        if float(self.voxel) <= 0:
            raise InputError("this HEMGS model has never seen its anchors (no voxel unit): train it before coding")
        header, sections = super().stream_state(dtype)
        header["hemgs_lambda"] = float(self.lam)
        header["hemgs_voxel"] = float(self.voxel)
        header["hemgs_sa"] = shipped().fingerprint() if self.cfg.sa else None
        return header, sections

    @classmethod
    def from_stream(cls, header: dict, sections: dict) -> HemgsEntropyModel:
        cfg = header.get(cls.HEADER_KEY)
        if isinstance(cfg, dict) and "step_form" not in cfg:  # streams made before the field: the first form
            header = {**header, cls.HEADER_KEY: {**cfg, "step_form": "tanh"}}
        m = super().from_stream(header, sections)
        try:
            lam, voxel = float(header["hemgs_lambda"]), float(header["hemgs_voxel"])
        except (KeyError, TypeError, ValueError):
            raise CorruptStreamError("hemgs header: λ or voxel unit missing or malformed") from None
        if not (math.isfinite(voxel) and voxel > 0):
            raise CorruptStreamError(f"hemgs header: voxel unit {voxel!r} is not a positive number")
        try:
            m.set_lambda(lam)
        except InputError as e:
            raise CorruptStreamError(f"hemgs header: {e}") from None
        if m.cfg.sa and header.get("hemgs_sa") != shipped().fingerprint():
            raise CorruptStreamError("hemgs header: the stream was coded with another scene-agnostic point encoder "
                                     f"({header.get('hemgs_sa')!r}; this gscodec ships {shipped().fingerprint()})")
        m.voxel.fill_(voxel)
        return m


__all__ = ["HemgsConfig", "HemgsEntropyModel", "LAMBDA_SPAN", "STEP_FORMS"]
