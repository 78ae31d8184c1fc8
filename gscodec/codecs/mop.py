"""The "mop" codec: Mixture of Priors + Coarse-to-Fine Quantization (paper 000) as a
configuration of the generic anchor codec with gscodec.entropy.mop.MopEntropyModel.

Stream: HAC's (gscodec.codecs.hac), with the model config under `mop`, the channel weights
of C2FQ in the header (`mop_weights`, float16 values) and the coarse scale chosen for each
anchor and group in section `c2fq_index` (its own row in `gscodec info`, with the experts,
gate and shared head in `mlp_context`). Training: HAC's schedule plus the "element-weights"
phase at 20k of 30k (scaled), where the trainer's gradient pass sets the channel weights.

Options (training only; the ablations of the paper's Tables 2 and 6):
  experts        number of experts (1: C2FQ without MoP, one expert = HAC's MLP)
  c2fq           false: MoP without C2FQ (HAC's adaptive step)
  expert_hidden  experts' width; None (default) sizes them iso-parameter with HAC's MLP
  weights        "channel" (default: one C2FQ weight per channel, in the header) or "matrix"
                 (plus the per-element matrix, section c2fq_matrix, its own row in `info`)
"""
from __future__ import annotations

from typing import ClassVar

from gscodec.codecs.hac import HacCodec
from gscodec.codecs.registry import register_codec
from gscodec.entropy.mixture import check_options
from gscodec.entropy.mop import WEIGHT_PHASE, MopEntropyModel
from gscodec.errors import InputError
from gscodec.train.schedule import scale_position

WEIGHTS_AT = 20_000  # of HAC's 30k steps: after anchor growth (15k), a third left to adapt


@register_codec
class MopCodec(HacCodec):
    name = "mop"
    version = 1
    model_class = MopEntropyModel
    SECTION_GROUPS: ClassVar[dict[str, str]] = {**HacCodec.SECTION_GROUPS, "mlp_context": "MoP + context MLPs",
                                                "c2fq_index": "C2FQ indices", "c2fq_matrix": "C2FQ element matrix"}

    def __init__(self, *, experts: int = 5, c2fq: bool = True, expert_hidden: int | None = None,
                 weights: str = "channel", **kw):
        check_options("mop", experts, expert_hidden)
        if not isinstance(c2fq, bool):
            raise InputError(f"mop: c2fq must be true or false, got {c2fq!r}")
        if weights not in ("channel", "matrix") or (weights == "matrix" and not c2fq):
            raise InputError(f"mop: weights must be 'channel' or 'matrix' (the latter with c2fq), got {weights!r}")
        super().__init__(**kw)
        self.experts, self.c2fq, self.expert_hidden, self.weights = experts, c2fq, expert_hidden, weights

    def model_options(self) -> dict:
        return {"n_experts": self.experts, "c2fq": self.c2fq, "expert_hidden": self.expert_hidden,
                "element_weights": self.weights}

    def training_phases(self, cfg) -> tuple:
        from gscodec.train.scaffold import Phase

        at = scale_position(WEIGHTS_AT, cfg.iterations)
        if self.weights == "matrix" and cfg.grow_until > at:  # refused before training, not at step `at`
            raise InputError(f"mop: weights=matrix is collected per anchor at step {at}, but anchors still grow "
                             f"until step {cfg.grow_until}; end growth before it (grow_until <= {at})")
        return (Phase(at, WEIGHT_PHASE),) if self.c2fq else ()
