"""The "combined" codec: Predict-GS's predicted features and residual decoder (paper 003),
coded by HEMGS's entropy model (paper 001: variable-rate steps, hybrid hyperprior,
autoregressive context with adaptive selection) whose hyperprior layer is MoP's mixture of
experts (paper 000). No paper tries this; Predict-GS says its features compose with better
entropy models. It is a configuration of the three modules, nothing new is written here:
the representation, its sections and its training schedule are PredictGSCodec's; the
entropy model, its options and its `gscodec encode RUN/ --lambda` path are HemgsCodec's.

What is left out, and why: MoP's C2FQ. Its coarse steps and HEMGS's λ-conditioned steps are
two answers to the same question (what step for this anchor); HEMGS's is the one that
gives one model for every rate, so it is kept.

Options: Predict-GS's (residual, downsample), HEMGS's (sa, ar, acs, field, lambdas) and
experts (default 5, the paper's MoP; 1 removes the mixture), expert_hidden (default: MoP's
iso-parameter rule, the widest mixture whose networks hold no more weights than HEMGS's
one-layer prior, so the mixture adds no fixed cost; a small scene cannot carry more). The ablation rows: `predict-gs`
features off = `hemgs` with experts 5; MoP off = experts 1; HEMGS's context and variable
rate off = ar false and one λ.
"""
from __future__ import annotations

from typing import ClassVar

from gscodec.codecs.hac import HacCodec
from gscodec.codecs.hemgs import HemgsCodec
from gscodec.codecs.predict_gs import PredictGSCodec
from gscodec.codecs.registry import register_codec


@register_codec
class CombinedCodec(PredictGSCodec, HemgsCodec):
    name = "combined"
    version = 1
    model_class = HemgsCodec.model_class
    SECTION_GROUPS: ClassVar[dict[str, str]] = {**HacCodec.SECTION_GROUPS, "sfp": "SFP", "mgrd": "MGRD",
                                                "mlp_context": "HEMGS + MoP networks"}

    def __init__(self, *, experts: int = 5, **kw):
        super().__init__(experts=experts, **kw)  # PredictGSCodec's options, then HemgsCodec's
