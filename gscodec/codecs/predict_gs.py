"""The "predict-gs" codec: Predict-GS (paper 003) as a configuration of the generic anchor codec.

Representation: gscodec.models.predict_gs.PredictGSModel (features predicted from a Spatial
Feature Pool, a 25-dim residual per anchor, multi-head residual decoder). Entropy model: HAC's,
which codes the residual instead of the feature, with scaling and offsets (paper A.3). Stream:
the generic anchor codec's, with the pool + fusion MLP in section `sfp` and the residual heads
in `mgrd` (their own rows in `gscodec info`). Training (paper A.2, positions scaled by the
schedule rule): the residual switched on at 5k of 30k steps; training views down-scaled from
0.7 to 1.0 by a cosine over the first 9k; the rate term from HAC's context phase (10k).
"""
from __future__ import annotations

from typing import ClassVar

from gscodec.codecs.hac import HacCodec
from gscodec.codecs.registry import register_codec
from gscodec.models.predict_gs import PredictGSModel
from gscodec.train.schedule import scale_position

RESIDUAL_START, DOWNSAMPLE_STEPS, DOWNSAMPLE_FROM = 5000, 9000, 0.7  # the paper's, at 30k steps


@register_codec
class PredictGSCodec(HacCodec):
    name = "predict-gs"
    version = 1
    representation_class = PredictGSModel
    DECODER_SECTIONS: ClassVar[dict[str, str]] = {"pool": "sfp", "mlp_fuse": "sfp", "mlp_shape": "mgrd",
                                                  "mlp_appearance": "mgrd"}
    SECTION_GROUPS: ClassVar[dict[str, str]] = {**HacCodec.SECTION_GROUPS, "sfp": "SFP", "mgrd": "MGRD"}

    @classmethod
    def training_phases(cls, cfg) -> tuple:
        from gscodec.train.scaffold import Phase

        return (Phase(scale_position(RESIDUAL_START, cfg.iterations), "residual", turns_on=("residual",)),)

    @classmethod
    def training_view_scale(cls, cfg):
        from gscodec.train.scaffold import ViewScale

        return ViewScale(DOWNSAMPLE_FROM, scale_position(DOWNSAMPLE_STEPS, cfg.iterations), "cosine")
