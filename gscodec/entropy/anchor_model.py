"""The interface every anchor entropy model implements (HAC, and the methods built on it).

An anchor entropy model prices the attributes of Scaffold-GS anchors (feature F, scaling 6,
offsets 3k) given what the decoder knows (decoded positions, side information it stores:
hash bits, network weights). Two faces, as in CompressAI's EntropyModel:

* training: `forward(anchors, features, scaling, offsets, offset_mask, mode, sample)` returns
  an AnchorRate: the attributes through the quantization simulation (one shared quantizer,
  gscodec.simulate.quantize; mode "plain" | "noise" | "context") and bits per group;
* coding: `coding_units()` lists the units in decode order (which group, which channels);
  `coding_context(anchors)` computes what every unit needs from the positions alone, and
  `unit_params(unit, context, decoded)` the distribution of one unit from that context and the
  values decoded so far. Everything on this face is float64 numpy, computed on the CPU by
  gscodec.entropy.replay, so encoder and decoder agree bit for bit.

Side information (hash bits, weights) goes to and comes from the stream through
`stream_state` / `from_stream`; the generic anchor codec (gscodec.codecs.anchor) calls
these and knows nothing else about a model. A new method is a subclass.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from gscodec.coding.container import Section

GROUPS = ("feature", "scaling", "offsets")


@dataclass(frozen=True, eq=False)
class CodingUnit:
    """One block of symbols coded together: channels [start, end) of `group` for every
    anchor, or for the anchors `rows` (ascending indices; an autoregressive model codes its
    anchors in batches whose contexts are complete); offsets only where the offset mask is
    on. `index` counts units per group."""

    group: str
    index: int
    start: int
    end: int
    rows: np.ndarray | None = None

    @property
    def anchors(self):
        """Index of the unit's anchors into [N] arrays (all: a full slice)."""
        return slice(None) if self.rows is None else self.rows


@dataclass
class UnitParams:
    """The distribution of one unit, [N, end-start] float64 each (q broadcasts): `family`
    (one of gscodec.coding.ans.FAMILIES) of `mean` and `scale` (the Laplace scale is its b)
    quantized on the grid k * q. "gaussian-mixture" adds a trailing component dim M to mean
    and scale, and `weights` [N, end-start, M] (summing to 1 over M). Every family's bins are
    floored at ans.TAIL_FLOOR, in training (entropy.gaussian.bin_likelihood) and coding."""

    mean: np.ndarray
    scale: np.ndarray
    q: np.ndarray
    family: str = "gaussian"
    weights: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The symbols' shape [N, end-start]."""
        return self.mean.shape[:-1] if self.weights is not None else self.mean.shape


@dataclass
class AnchorRate:
    """Training face output: quantization-simulated attributes, bits per group (scalar
    tensors) and the rate term added to the loss (None outside the rate phase)."""

    features: torch.Tensor
    scaling: torch.Tensor
    offsets: torch.Tensor
    bits: dict = field(default_factory=dict)
    rate_loss: torch.Tensor | None = None


class AnchorEntropyModel(nn.Module):
    """Base of the anchor entropy models; see the module docstring for the two faces."""

    feat_dim: int
    n_offsets: int
    VARIABLE_RATE = False  # True: one trained model codes at any λ (set_lambda), e.g. HEMGS

    @property
    def dims(self) -> dict[str, int]:
        return {"feature": self.feat_dim, "scaling": 6, "offsets": 3 * self.n_offsets}

    @classmethod
    def for_scene(cls, n_points: int, feat_dim: int, n_offsets: int, options: dict | None = None):
        """The model a training run starts from for a scene of `n_points` initial points
        (options: the user's config overrides)."""
        raise NotImplementedError(f"{cls.__name__} does not say how to build itself for a training run")

    def describe(self, anchors=None) -> dict:
        """What a run's metrics record about the model (e.g. its config; `anchors`: the
        trained positions, for figures over the scene such as MoP's gate weights)."""
        return {}

    # ---- training face (subclasses) ------------------------------------------------------
    def forward(self, anchors, features, scaling, offsets, offset_mask, mode: str = "context",
                sample=None) -> AnchorRate:
        raise NotImplementedError

    def set_lambda(self, lam: float) -> None:
        """The run's λ (the trainer calls it once; the encoder may call it again when
        VARIABLE_RATE): a variable-rate model codes at it. Default: nothing."""

    def rate_lambda(self, lam: float) -> float:
        """The λ weighing this training step's rate term (default: the run's λ; a
        variable-rate model samples one of its trained values per step)."""
        return lam

    def on_phase(self, phase) -> None:
        """Called when training enters a new phase (a train.scaffold.Phase); default: nothing."""

    def set_bounds(self, lo, hi) -> None:
        """Bounding box of the (fixed) anchors, for models with a spatial context."""

    def rate_sample(self, n: int, device=None, generator=None) -> torch.Tensor:
        """Anchors whose bits enter the rate term this step (default: all)."""
        return torch.arange(n, device=device)

    # ---- value domain ------------------------------------------------------------------------
    def to_coded(self, group: str, values):
        """Stored values of a group -> the values the model codes (default: themselves)."""
        return values

    def from_coded(self, group: str, values):
        return values

    # ---- coding face (subclasses) --------------------------------------------------------
    def coding_units(self, context=None) -> list[CodingUnit]:
        """Units in decode order (`context`: coding_context's, for models whose units depend
        on the positions, such as anchor batches)."""
        raise NotImplementedError

    def coding_context(self, anchors: np.ndarray):
        """What every unit's parameters need from the decoded positions alone (float64)."""
        raise NotImplementedError

    def unit_params(self, unit: CodingUnit, context, decoded: dict[str, np.ndarray]) -> UnitParams:
        """Parameters of `unit` from the context and the already decoded (coded-domain,
        dequantized) values: decoded[group] is [N, dims[group]], filled up to this unit."""
        raise NotImplementedError

    def anchor_arrays(self) -> dict[str, np.ndarray]:
        """Per-anchor arrays [N_trained, ...] the model learnt for its anchors (e.g. MoP's
        element-weight matrix): the codec keeps and orders them as it does the anchors and
        hands them to encode_anchor_side. Default none."""
        return {}

    def encode_anchor_side(self, context, arrays: dict | None = None) -> tuple[dict, list[Section]]:
        """Per-anchor side information the encoder chooses for the decoded positions (e.g.
        MoP's coarse step indices; `arrays`: anchor_arrays() in coded order), as (header
        entries, sections); default none."""
        return {}, []

    def decode_anchor_side(self, context, header: dict, sections: dict):
        """`context` with that side information applied; the encoder calls it on its own
        output too, so both sides code with the same parameters. Default: unchanged."""
        return context

    def side_bits(self) -> dict[str, float]:
        """Estimated bits of side information the model stores (e.g. hash tables)."""
        return {}

    # ---- stream ----------------------------------------------------------------------------
    def stream_state(self, dtype: str) -> tuple[dict, list[Section]]:
        """(header entries, sections) that let `from_stream` rebuild this model exactly."""
        raise NotImplementedError

    @classmethod
    def from_stream(cls, header: dict, sections: dict) -> AnchorEntropyModel:
        """The model as the decoder rebuilds it; the encoder codes with this one too."""
        raise NotImplementedError


__all__ = ["GROUPS", "AnchorEntropyModel", "AnchorRate", "CodingUnit", "UnitParams"]
