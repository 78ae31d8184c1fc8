"""Mixture of Priors (MoP) and Coarse-to-Fine Quantization (C2FQ), paper 000, on HAC's model.

Why: HAC turns the hash-grid context into distribution parameters with one small MLP, and
steps every element of a group with one adaptive step. MoP (Sec. 3.3) reads the context
with several light experts mixed by a gate, a better hyperprior; C2FQ (Sec. 3.4) uses that
prior to choose the steps coarse-to-fine. Everything else (hash grid, channel context,
Gaussian bins, coding units, stream) is HAC's: this class only overrides HAC's seams
(build_prior / prior / prior64 / prior_tensors / step_factor) and two of the framework's
(anchor side information; gradient statistics from the trainer).

Where the paper is silent, we chose (and say so):
- experts: n first layers (context -> ReLU(hidden)) each initialised by a different scheme
  and seed; the gate a linear layer + softmax on the same context; G = sum_i w_i p_i is
  the MoP feature, and one shared output layer reads G into HAC's parameter split (so one
  expert is exactly HAC's MLP). expert_hidden None sizes the experts so that all of MoP's
  networks hold no more weights than HAC's context MLP at the same config (iso-parameter).
- C2FQ (a): a linear layer on G gives per group logits over `scale_list` (0.25..4, octaves);
  hard Gumbel-softmax with a straight-through gradient while training, temperature
  annealed exponentially from gumbel_tau[0] to [1] over the run, arg-max at coding time;
  the encoder sends the chosen indices (section c2fq_index) so a near tie can never make
  the decoder pick another step. (b) Q2 = Q1 (1 + tanh(adj)) is HAC's adaptive step with
  adj read from G. (c) the element-wise weights: the decoder cannot recompute them (no
  training views) and the paper does not say how they travel, so by default one weight per
  channel and group (float16 values in the header): w = clamp((g / geomean g)^power,
  1/range, range) of the mean |d rendering loss / d attribute| over the training views
  (collected once, with weights 1, at the "element-weights" phase; frozen afterwards), and
  the step is Q2 / w (a larger gradient: a finer step; the paper's Round(A Q4) / Q4 writes
  the step as its inverse). element_weights="matrix" (the ablation) adds the per-element
  matrix on top of the channel vector: each element's weight relative to its channel,
  (g_ij / mean_i g_ij)^power, on a half-octave grid 2^(k/2), |k| <= 2 log2(weight_range),
  the integers k coded per anchor (section c2fq_matrix, one fitted categorical per channel,
  counted in `gscodec info`). Elements with no gradient (masked offsets) get the coarsest
  step. The matrix is collected once, after anchor growth, so it covers the final anchors;
  the codec hands it over in the coded order (AnchorEntropyModel.anchor_arrays).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gscodec.coding import ans
from gscodec.coding.container import Section
from gscodec.coding.stream import need
from gscodec.entropy import replay
from gscodec.entropy.anchor_model import GROUPS
from gscodec.entropy.hac import HacConfig, HacEntropyModel
from gscodec.entropy.mixture import MixturePrior, rename_keys
from gscodec.errors import CorruptStreamError, InputError

WEIGHT_PHASE = "element-weights"


@dataclass
class MopConfig(HacConfig):
    """HAC's config plus the experts and C2FQ; scale_list the coarse multipliers of Q0."""

    WHAT: ClassVar[str] = "MoP config"

    n_experts: int = 5
    expert_hidden: int | None = None  # None: iso-parameter with HAC's context MLP
    c2fq: bool = True
    scale_list: tuple = (0.25, 0.5, 1.0, 2.0, 4.0)
    gumbel_tau: tuple = (1.0, 0.1)
    weight_power: float = 0.5
    weight_range: float = 4.0
    element_weights: str = "channel"  # "channel" (default) | "matrix" (the per-element ablation)

    def validate(self) -> MopConfig:
        super().validate()
        if not isinstance(self.n_experts, int) or not 1 <= self.n_experts <= 16:
            raise InputError(f"MopConfig.n_experts must be an integer in 1..16, got {self.n_experts!r}")
        if not isinstance(self.c2fq, bool):
            raise InputError(f"MopConfig.c2fq must be true or false, got {self.c2fq!r}")
        try:
            self.scale_list = tuple(float(s) for s in self.scale_list)
            self.gumbel_tau = tuple(float(t) for t in self.gumbel_tau)
        except (TypeError, ValueError):
            raise InputError("MopConfig.scale_list / gumbel_tau must be lists of numbers") from None
        if not 1 <= len(self.scale_list) <= 8 or not all(math.isfinite(s) and s > 0 for s in self.scale_list):
            raise InputError(f"MopConfig.scale_list needs 1..8 positive numbers, got {self.scale_list}")
        if len(self.gumbel_tau) != 2 or not all(math.isfinite(t) and t > 0 for t in self.gumbel_tau):
            raise InputError(f"MopConfig.gumbel_tau needs two positive numbers, got {self.gumbel_tau}")
        if not 0 <= self.weight_power <= 2 or not 1 <= self.weight_range <= 64:
            raise InputError("MopConfig.weight_power must lie in 0..2 and weight_range in 1..64")
        if self.element_weights not in ("channel", "matrix"):
            raise InputError(f"MopConfig.element_weights must be 'channel' or 'matrix', got {self.element_weights!r}")
        if self.element_weights == "matrix" and not self.c2fq:
            raise InputError("MopConfig.element_weights 'matrix' is part of C2FQ: it needs c2fq true")
        if self.expert_hidden is None:
            self.expert_hidden = self.iso_hidden()
        if not isinstance(self.expert_hidden, int) or not 1 <= self.expert_hidden <= 4096:
            raise InputError(f"MopConfig.expert_hidden must be an integer in 1..4096, got {self.expert_hidden!r}")
        return self

    @property
    def matrix_levels(self) -> int:
        """J: matrix weights are 2^(k/2), k in -J..J."""
        return int(round(2 * math.log2(self.weight_range)))

    @property
    def n_select(self) -> int:
        """Selector outputs: one logit per scale per group (0 without C2FQ)."""
        return len(GROUPS) * len(self.scale_list) if self.c2fq else 0

    def _prior_params(self, h: int) -> int:
        c, out = self.context_dim, 2 * self.n_params + 3
        return MixturePrior.param_count(c, h, self.n_experts) + h * out + out + (h * self.n_select + self.n_select)

    def iso_hidden(self) -> int:
        """The widest experts whose networks hold no more weights than HAC's MLP."""
        hac = HacConfig.prior_param_count(self, self.context_dim)
        h = 1
        while self._prior_params(h + 1) <= hac:
            h += 1
        return h

    def prior_param_count(self, context_dim: int) -> int:
        return self._prior_params(self.expert_hidden)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "scale_list": list(self.scale_list), "gumbel_tau": list(self.gumbel_tau)}


class MopEntropyModel(HacEntropyModel):
    """HAC's model with a mixture-of-priors hyperprior and C2FQ steps (module docstring)."""

    config_class = MopConfig
    HEADER_KEY = "mop"

    def build_prior(self) -> None:
        cfg, c = self.cfg, self.context.out_dim
        h = cfg.expert_hidden
        self.mix = MixturePrior(c, h, cfg.n_experts)
        self.head = nn.Linear(h, sum(self.split))
        self.selector = nn.Linear(h, cfg.n_select) if cfg.c2fq else None
        if self.selector is not None:
            nn.init.zeros_(self.selector.weight)
            with torch.no_grad():  # start at scale 1 (HAC's step)
                self.selector.bias.copy_(torch.tensor([2.0 if s == 1.0 else 0.0 for s in cfg.scale_list] * len(GROUPS)))
        self.register_buffer("tau", torch.tensor(float(cfg.gumbel_tau[0])))
        for g in GROUPS:  # element weights per channel (1 until collected); the matrix: none yet
            self.register_buffer(f"weights_{g}", torch.ones(self.cfg.dims[g]))
            self.register_buffer(f"matrix_{g}", torch.zeros(0, self.cfg.dims[g], dtype=torch.int8))
        self.register_buffer("weights_collected", torch.tensor(False))

    def prior_tensors(self) -> list[torch.Tensor]:
        ts = self.mix.tensors() + [self.head.weight, self.head.bias]
        return ts + ([self.selector.weight, self.selector.bias] if self.selector is not None else [])

    # ---- the mixture ------------------------------------------------------------------------
    def gate_weights(self, context: torch.Tensor) -> torch.Tensor:
        """[N, n] soft weights (sum to one)."""
        return self.mix.weights(context)

    def mop_feature(self, context: torch.Tensor) -> torch.Tensor:
        return self.mix(context)

    def prior(self, context: torch.Tensor) -> torch.Tensor:
        g = self.mop_feature(context)
        return torch.cat([self.head(g)] + ([self.selector(g)] if self.selector is not None else []), 1)

    def prior64(self, context: np.ndarray) -> np.ndarray:
        g = self.mix.run64(context)
        outs = [replay.run(self.head, g)] + ([replay.run(self.selector, g)] if self.selector is not None else [])
        return np.concatenate(outs, 1)

    # ---- C2FQ -------------------------------------------------------------------------------
    def _logits(self, extra, group: str):
        s = len(self.cfg.scale_list)
        i = GROUPS.index(group)
        return extra[:, i * s : (i + 1) * s]

    def inverse_weights(self, group: str) -> torch.Tensor:
        return 1.0 / getattr(self, f"weights_{group}")

    def _inverse_matrix(self, group: str, n: int) -> torch.Tensor | None:
        """[n, D] 2^(-k/2) of the collected matrix (None before it is collected)."""
        k = getattr(self, f"matrix_{group}")
        if not k.shape[0]:
            return None
        if k.shape[0] != n:
            raise InputError(f"MoP's element-weight matrix covers {k.shape[0]} anchors, the model now has {n}: "
                             "anchors grew or were pruned after the element-weights phase")
        return torch.exp2(-k.float() / 2)

    def step_factor(self, extra, group: str):
        """Coarse scale (Gumbel while training, arg-max otherwise) / channel weights (and, on
        the training face, / the element matrix; the coding face applies it in
        decode_anchor_side, where the anchors are in coded order)."""
        inv = self.inverse_weights(group)
        if isinstance(extra, np.ndarray):
            inv = inv.detach().cpu().double().numpy()[None, :]
            if not self.cfg.c2fq:
                return inv
            scales = np.asarray(self.cfg.scale_list, np.float64)
            return scales[np.argmax(self._logits(extra, group), 1)][:, None] * inv
        mat = self._inverse_matrix(group, extra.shape[0])
        inv = inv[None, :] if mat is None else inv[None, :] * mat.to(inv)
        if not self.cfg.c2fq:
            return inv
        logits = self._logits(extra, group)
        if self.training:
            pick = F.gumbel_softmax(logits, tau=float(self.tau), hard=True)
        else:
            pick = F.one_hot(logits.argmax(1), logits.shape[1]).to(logits.dtype)
        scales = torch.tensor(self.cfg.scale_list, dtype=logits.dtype, device=logits.device)
        return (pick @ scales)[:, None] * inv

    def on_step(self, step: int, total: int) -> None:
        """Anneal the Gumbel temperature exponentially over the run."""
        t0, t1 = self.cfg.gumbel_tau
        t = min(max(step / max(total, 1), 0.0), 1.0)
        self.tau.fill_(t0 * (t1 / t0) ** t)

    def wants_gradients(self, phase) -> bool:
        return phase.name == WEIGHT_PHASE and not bool(self.weights_collected)

    @torch.no_grad()
    def set_gradients(self, grads: dict[str, torch.Tensor]) -> None:
        """Per-channel weights from mean |dL/dA| [N, D] per group (see module docstring)."""
        cfg = self.cfg
        for g in GROUPS:
            m = grads[g].abs().double().mean(0) + 1e-12
            w = (m / torch.exp(torch.log(m).mean())) ** cfg.weight_power
            w = w.clamp(1 / cfg.weight_range, cfg.weight_range).half().float()  # what the header holds
            getattr(self, f"weights_{g}").copy_(w)
            if cfg.element_weights == "matrix":  # each element relative to its channel
                r = (grads[g].abs().double() / m).clamp_min(1e-12) ** cfg.weight_power
                j = cfg.matrix_levels
                k = torch.round(2 * torch.log2(r)).clamp(-j, j).to(torch.int8)
                setattr(self, f"matrix_{g}", k.to(getattr(self, f"matrix_{g}").device))
        self.weights_collected.fill_(True)

    def __setstate__(self, state):
        """Models pickled before the mixture was shared (experts and gate held here) load too."""
        mods, bufs = state.get("_modules", {}), state.get("_buffers", {})
        if "mix" not in mods and "experts" in mods:
            experts, gate = mods.pop("experts"), mods.pop("gate", None)
            state["_modules"] = {"mix": MixturePrior.from_layers(experts, gate), **mods}
        for g in GROUPS:
            if f"matrix_{g}" not in bufs:
                bufs[f"matrix_{g}"] = torch.zeros(0, state["cfg"].dims[g], dtype=torch.int8)
        super().__setstate__(state)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        rename_keys(state_dict, prefix, {"experts.": "mix.experts.", "gate.": "mix.gate."})
        for g in GROUPS:  # a resumed run's matrix has the trained anchor count
            key = f"{prefix}matrix_{g}"
            if key in state_dict:
                setattr(self, f"matrix_{g}", torch.zeros_like(state_dict[key], device=getattr(self, f"matrix_{g}").device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def anchor_arrays(self) -> dict[str, np.ndarray]:
        if self.cfg.element_weights != "matrix" or not self.matrix_feature.shape[0]:
            return {}
        return {"c2fq_matrix": np.concatenate([getattr(self, f"matrix_{g}").cpu().numpy() for g in GROUPS], 1)}

    # ---- the anchor side: chosen coarse scales ---------------------------------------------------
    def coding_context(self, anchors):
        ctx = self.coder_heads(anchors)
        if self.cfg.c2fq:
            ctx["c2fq_index"] = np.stack([np.argmax(self._logits(ctx["extra"], g), 1) for g in GROUPS], 1)
        return ctx

    def encode_anchor_side(self, context, arrays=None) -> tuple[dict, list[Section]]:
        if not self.cfg.c2fq:
            return {}, []
        data, _ = ans.encode_channels(context["c2fq_index"])
        out = [Section("c2fq_index", "ans-channels", data)]
        if self.cfg.element_weights == "matrix":
            k = (arrays or {}).get("c2fq_matrix")
            n = context["c2fq_index"].shape[0]
            if k is None or k.shape != (n, sum(self.cfg.dims.values())):
                raise InputError("MoP (element_weights 'matrix'): the model has no element matrix for these anchors "
                                 "(it is collected at the element-weights phase of training)")
            data, _ = ans.encode_channels(k.astype(np.int64) + self.cfg.matrix_levels)
            out.append(Section("c2fq_matrix", "ans-channels", data))
        return {}, out

    def decode_anchor_side(self, context, header: dict, sections: dict):
        if not self.cfg.c2fq:
            return context
        n = context["feature"][0].shape[0]
        idx = ans.decode_channels(need(sections, "c2fq_index"), n)
        if idx.shape != (n, len(GROUPS)) or (idx.size and idx.max() >= len(self.cfg.scale_list)):
            raise CorruptStreamError("c2fq_index: indices do not match the anchors or the scale list")
        scales = np.asarray(self.cfg.scale_list, np.float64)
        out = dict(context, c2fq_index=idx)
        mats = self._decode_matrix(sections, n)
        for i, g in enumerate(GROUPS):
            inv = self.inverse_weights(g).detach().cpu().double().numpy()[None, :]
            if mats is not None:
                inv = inv * np.exp2(-mats[g] / 2.0)
            mean, raw, _ = context[g]
            out[g] = (mean, raw, context["q_base"][g] * scales[idx[:, i]][:, None] * inv)
        return out

    def _decode_matrix(self, sections: dict, n: int) -> dict[str, np.ndarray] | None:
        """group -> [n, D] float64 k of the element matrix (None in channel mode)."""
        if self.cfg.element_weights != "matrix":
            return None
        j, dims = self.cfg.matrix_levels, [self.cfg.dims[g] for g in GROUPS]
        k = ans.decode_channels(need(sections, "c2fq_matrix"), n)
        if k.shape != (n, sum(dims)) or (k.size and k.max() > 2 * j):
            raise CorruptStreamError("c2fq_matrix: the element weights do not match the anchors or the level range")
        parts = np.split(k.astype(np.float64) - j, np.cumsum(dims)[:-1], axis=1)
        return dict(zip(GROUPS, parts))

    # ---- stream -----------------------------------------------------------------------------
    def describe(self, anchors=None) -> dict:
        out = {**super().describe(), "prior_weights": self.cfg._prior_params(self.cfg.expert_hidden)}
        if anchors is not None and self.mix.gate is not None:
            out["gate_weights"] = self.mean_gate_weights(anchors)
        return out

    @torch.no_grad()
    def mean_gate_weights(self, anchors) -> list[float]:
        """The gate's weights averaged over `anchors` (the paper's Figure 4)."""
        a = anchors.detach() if isinstance(anchors, torch.Tensor) else torch.as_tensor(np.asarray(anchors))
        ctx = self.context(a.to(self.tau.device, torch.float32))
        return [float(v) for v in self.gate_weights(ctx).mean(0)]

    def stream_state(self, dtype: str) -> tuple[dict, list[Section]]:
        header, sections = super().stream_state(dtype)
        header["mop_weights"] = {g: getattr(self, f"weights_{g}").tolist() for g in GROUPS}
        return header, sections

    @classmethod
    def from_stream(cls, header: dict, sections: dict) -> MopEntropyModel:
        m = super().from_stream(header, sections)
        w = header.get("mop_weights")
        try:
            vals = {g: torch.tensor([float(v) for v in w[g]], dtype=torch.float32) for g in GROUPS}
        except (KeyError, TypeError, ValueError):
            raise CorruptStreamError("mop header: channel weights missing or malformed") from None
        for g, v in vals.items():
            r = m.cfg.weight_range
            if v.shape != (m.cfg.dims[g],) or not bool(((v >= 1 / r - 1e-3) & (v <= r + 1e-3)).all()):
                raise CorruptStreamError(f"mop header: {g} channel weights have the wrong size or range")
            getattr(m, f"weights_{g}").copy_(v)
        return m


__all__ = ["MopConfig", "MopEntropyModel", "WEIGHT_PHASE"]
