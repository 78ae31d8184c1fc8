"""The "scaffold-raw" codec: an AnchorScene stored without entropy coding (the baseline).

Why: the anchor-codec benchmark reports HAC's size against the same Scaffold model kept
as plain arrays, as the papers do. Layout: float32 anchors / features / scaling / offsets
(every offset, masked or not), the offset masks as packed bits and the decoder MLPs
(float tensors as float32, others as they are). The round trip is exact for float32 scenes.

Also holds what both anchor codecs share beyond gscodec.coding.stream: the scene check, the
anchor limit and the storage groups of `gscodec info`.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from gscodec.codecs.base import StreamCodec
from gscodec.codecs.registry import register_codec
from gscodec.coding import container
from gscodec.coding.container import Section
from gscodec.coding.schema import RawAnchorHeader
from gscodec.coding.stream import (
    need,
    pack_tensors,
    raw_array,
    read_count,
    unpack_tensors,
)
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene.anchors import AnchorScene

CODEC_VERSION = 1
MAX_ANCHORS = 1 << 26
# the papers' storage table; "header" is the container's own overhead
STORAGE_GROUPS = ("location", "feature", "scaling", "offsets", "hash", "masks", "MLPs", "header")


def check_scene(scene) -> AnchorScene:
    if not isinstance(scene, AnchorScene):
        raise InputError(f"anchor codecs encode an AnchorScene, got {type(scene).__name__}")
    return scene.detach().to("cpu").check()


# ---- the codec ------------------------------------------------------------------------------
@register_codec
class ScaffoldRawCodec(StreamCodec):
    name = "scaffold-raw"
    version = CODEC_VERSION
    header_schema = RawAnchorHeader
    GROUPS: ClassVar[dict[str, str]] = {"location": "location", "feature": "feature", "scaling": "scaling", "offsets": "offsets",
              "masks": "masks", "mlp_decoder": "MLPs"}

    def __init__(self):
        self.last_stats: dict = {}

    def encode(self, scene: AnchorScene) -> bytes:
        scene = check_scene(scene)
        n, f, k = len(scene), scene.feat_dim, scene.n_offsets
        f32 = lambda t: t.to(torch.float32).numpy().astype("<f4").tobytes()
        mlp, table = pack_tensors(scene.decoder_state, "float32")
        sections = [Section("location", "raw-f32", f32(scene.anchors)),
                    Section("feature", "raw-f32", f32(scene.features)),
                    Section("scaling", "raw-f32", f32(scene.scaling)),
                    Section("offsets", "raw-f32", f32(scene.offsets)),
                    Section("masks", "packbits", np.packbits(scene.offset_mask.numpy().astype(np.uint8).reshape(-1)).tobytes()),
                    Section("mlp_decoder", "raw", mlp)]
        header = {"codec": self.name, "codec_version": CODEC_VERSION, "count": n, "feat_dim": f, "n_offsets": k,
                  "decoder_config": scene.decoder_config, "decoder_tensors": table,
                  "section_groups": self.GROUPS}
        if n:
            header["bounds"] = [scene.anchors.min(0).values.tolist(), scene.anchors.max(0).values.tolist()]
        data = container.pack(header, sections)
        self.last_stats = {"bytes": len(data), "sections": {s.name: len(s.data) for s in sections}}
        return data


    @classmethod
    def decode_stream(cls, data: bytes) -> AnchorScene:
        header, sections = cls.unpack(data)
        n = read_count(header, "count", 0, MAX_ANCHORS)
        f = read_count(header, "feat_dim", 1, 4096)
        k = read_count(header, "n_offsets", 1, 1024)
        t = lambda name, shape: torch.from_numpy(raw_array(need(sections, name), "f4", shape, name).copy())
        anchors, feats, scaling, offsets = t("location", (n, 3)), t("feature", (n, f)), t("scaling", (n, 6)), t("offsets", (n, k, 3))
        mb = need(sections, "masks")
        if len(mb) != (n * k + 7) // 8:
            raise CorruptStreamError(f"masks: {len(mb)} bytes, expected {(n * k + 7) // 8}")
        mask = np.unpackbits(np.frombuffer(mb, np.uint8))[: n * k].astype(bool).reshape(n, k)
        state = unpack_tensors(need(sections, "mlp_decoder"), header.get("decoder_tensors"))
        cfg = header.get("decoder_config", {})
        if not isinstance(cfg, dict):
            raise CorruptStreamError("decoder_config is not an object")
        return AnchorScene(anchors, feats, scaling, offsets, torch.from_numpy(mask), state, cfg, None)
