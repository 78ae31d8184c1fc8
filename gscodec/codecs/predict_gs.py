"""The "predict-gs" codec: Predict-GS (paper 003) as a configuration of the generic anchor codec.

Representation: gscodec.models.predict_gs.PredictGSModel (features predicted from a Spatial
Feature Pool, a 25-dim residual per anchor, multi-head residual decoder). Entropy model: HAC's,
which codes the residual instead of the feature, with scaling and offsets (paper A.3). Stream:
the generic anchor codec's, with the pool + fusion MLP in section `sfp` and the residual heads
in `mgrd` (their own rows in `gscodec info`). Training (paper A.2, positions scaled by the
schedule rule): the residual switched on at 5k of 30k steps; training views down-scaled from
0.7 to 1.0 by a cosine over the first 9k; the rate term from HAC's context phase (10k).

Two training options give the paper's ablations (Tables 4 and 6); they shape training only,
the stream is the same:
  residual    "staged" (stage 2 from 5k, the paper's), "always" (from step 0: no staging),
              "off" (prediction only: the heads stay at zero and f_r at its rate-driven zero)
  downsample  "cosine" (the paper's), "linear", "fixed" (0.7 until the residual stage, then
              full: the paper's "Non"), "none" (full resolution throughout)
"""
from __future__ import annotations

from typing import ClassVar

from gscodec.codecs.hac import HacCodec
from gscodec.codecs.registry import register_codec
from gscodec.errors import InputError
from gscodec.models.predict_gs import PredictGSModel
from gscodec.train.schedule import scale_position

RESIDUAL_START, DOWNSAMPLE_STEPS, DOWNSAMPLE_FROM = 5000, 9000, 0.7  # the paper's, at 30k steps
RESIDUAL_MODES = ("staged", "always", "off")
DOWNSAMPLE_MODES = ("cosine", "linear", "fixed", "none")


@register_codec
class PredictGSCodec(HacCodec):
    name = "predict-gs"
    version = 1
    representation_class = PredictGSModel
    DECODER_SECTIONS: ClassVar[dict[str, str]] = {"pool": "sfp", "mlp_fuse": "sfp", "mlp_shape": "mgrd",
                                                  "mlp_appearance": "mgrd"}
    SECTION_GROUPS: ClassVar[dict[str, str]] = {**HacCodec.SECTION_GROUPS, "sfp": "SFP", "mgrd": "MGRD"}

    def __init__(self, *, residual: str = "staged", downsample: str = "cosine", **kw):
        if residual not in RESIDUAL_MODES:
            raise InputError(f"predict-gs: residual must be {'|'.join(RESIDUAL_MODES)}, got {residual!r}")
        if downsample not in DOWNSAMPLE_MODES:
            raise InputError(f"predict-gs: downsample must be {'|'.join(DOWNSAMPLE_MODES)}, got {downsample!r}")
        super().__init__(**kw)
        self.residual, self.downsample = residual, downsample

    def _residual_start(self, cfg) -> int | None:
        return {"staged": scale_position(RESIDUAL_START, cfg.iterations), "always": 0, "off": None}[self.residual]

    def training_phases(self, cfg) -> tuple:
        from gscodec.train.scaffold import Phase

        start = self._residual_start(cfg)
        return () if start is None else (Phase(start, "residual", turns_on=("residual",)),)

    def training_view_scale(self, cfg):
        from gscodec.train.scaffold import ViewScale

        if self.downsample == "none":
            return None
        if self.downsample == "fixed":  # held until the residual stage (whole run without one)
            start = self._residual_start(cfg)
            return ViewScale(DOWNSAMPLE_FROM, cfg.iterations if start is None else start, "fixed")
        return ViewScale(DOWNSAMPLE_FROM, scale_position(DOWNSAMPLE_STEPS, cfg.iterations), self.downsample)
