"""The "hac" codec: Scaffold-GS anchors entropy coded with HAC's hash-grid context.

A configuration of the generic anchor codec (gscodec.codecs.anchor, which documents the
stream): the entropy model is HacEntropyModel, whose side information is
  hash         the binarized hash-grid tables, one Bernoulli probability (in the header)
  mlp_context  context MLP + channel-context MLPs, float16 by default (`context_dtype`; float32
               when a weight does not fit): exactly the weights the coder parameters are
               computed from (the encoder rebuilds its model from these bytes)
and whose coding units are the feature chunks (channel context), scaling, then offsets.
Header entries of the model: the HAC config, the context bounds, the hash probability.
"""
from __future__ import annotations

from typing import ClassVar

from gscodec.codecs.anchor import AnchorCodec
from gscodec.codecs.registry import register_codec
from gscodec.entropy.hac import HacEntropyModel

CODEC_VERSION = 1


@register_codec
class HacCodec(AnchorCodec):
    name = "hac"
    version = CODEC_VERSION
    model_class = HacEntropyModel
    SECTION_GROUPS: ClassVar[dict[str, str]] = {**AnchorCodec.SECTION_GROUPS, "hash": "hash", "mlp_context": "MLPs"}
