"""The "scaffold-raw" codec: an AnchorScene stored without entropy coding (the baseline).

Why: the anchor-codec benchmark reports HAC's size against the same Scaffold model kept
as plain arrays, as the papers do. Layout: float32 anchors / features / scaling / offsets
(every offset, masked or not), the offset masks as packed bits and the decoder MLPs
(float tensors as float32, others as they are). The round trip is exact for float32 scenes.

Also holds the helpers both anchor codecs use: packing `decoder_state`, reading counts
from the header with limits, and the section -> storage-group map for `gscodec info`.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from gscodec.codecs.registry import register_codec
from gscodec.coding import container
from gscodec.coding.container import Section
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene.anchors import AnchorScene

CODEC_VERSION = 1
MAX_ANCHORS = 1 << 26
MAX_DECODER_TENSORS = 256
MAX_DECODER_VALUES = 1 << 26
# the papers' storage table; "header" is the container's own overhead
STORAGE_GROUPS = ("location", "feature", "scaling", "offsets", "hash", "masks", "MLPs", "header")
_DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
           "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}


# ---- decoder_state <-> bytes --------------------------------------------------------------
def pack_decoder_state(state: dict, float_dtype: str) -> tuple[bytes, list]:
    """Tensors in sorted name order: floats as `float_dtype`, others raw. Returns (bytes,
    table of [name, shape, stored dtype]) for the header."""
    if float_dtype not in ("float16", "float32"):
        raise InputError(f"MLP precision must be float16 or float32, got {float_dtype!r}")
    chunks, table = [], []
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, torch.Tensor):
            raise InputError(f"decoder_state[{name!r}] is a {type(t).__name__}, not a tensor")
        t = t.detach().cpu()
        if t.is_floating_point():
            dt = float_dtype
        else:
            dt = str(t.dtype).replace("torch.", "")
            if dt not in _DTYPES:
                raise InputError(f"decoder_state[{name!r}] has unsupported dtype {t.dtype}")
        a = t.to(_DTYPES[dt]).numpy()
        chunks.append(a.astype(a.dtype.newbyteorder("<")).tobytes())
        table.append([name, list(t.shape), dt])
    return b"".join(chunks), table


def unpack_decoder_state(data: bytes, table) -> dict[str, torch.Tensor]:
    """Inverse of pack_decoder_state; floats come back as float32. Sizes are checked against
    the bytes present before anything is allocated."""
    if not isinstance(table, list) or len(table) > MAX_DECODER_TENSORS:
        raise CorruptStreamError("decoder tensor table is malformed or too long")
    specs, total = [], 0
    for e in table:
        try:
            name, shape, dt = e
            shape = [int(s) for s in shape]
        except (TypeError, ValueError):
            raise CorruptStreamError(f"decoder tensor entry {e!r} is malformed") from None
        if not isinstance(name, str) or dt not in _DTYPES or len(shape) > 8 or any(s < 0 for s in shape):
            raise CorruptStreamError(f"decoder tensor entry {e!r} is invalid")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > MAX_DECODER_VALUES:
            raise CorruptStreamError(f"decoder tensor {name!r} declares {count} values")
        nbytes = count * torch.empty(0, dtype=_DTYPES[dt]).element_size()
        specs.append((name, shape, dt, count, nbytes))
        total += nbytes
    if total != len(data):
        raise CorruptStreamError(f"decoder MLP section holds {len(data)} bytes, the header declares {total}")
    out, off = {}, 0
    for name, shape, dt, count, nbytes in specs:
        np_dt = np.dtype(bool) if dt == "bool" else np.dtype(dt).newbyteorder("<")
        a = np.frombuffer(data, np_dt, count=count, offset=off).astype(np_dt.newbyteorder("="))
        t = torch.from_numpy(a.copy()).reshape(shape)
        out[name] = t.to(torch.float32) if t.is_floating_point() else t
        off += nbytes
    return out


def read_count(header: dict, key: str, lo: int, hi: int) -> int:
    try:
        v = header[key]
    except KeyError:
        raise CorruptStreamError(f"header lacks {key!r}") from None
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise CorruptStreamError(f"header {key}={v!r} is outside {lo}..{hi}")
    return v


def need(sections: dict, name: str) -> bytes:
    if name not in sections:
        raise CorruptStreamError(f"stream lacks section {name!r}")
    return sections[name].data


def raw_array(data: bytes, dtype: str, shape: tuple, what: str) -> np.ndarray:
    """A little-endian array whose byte length must match the shape exactly."""
    dt = np.dtype(dtype).newbyteorder("<")
    n = int(np.prod(shape, dtype=np.int64))
    if len(data) != n * dt.itemsize:
        raise CorruptStreamError(f"{what}: {len(data)} bytes, expected {n * dt.itemsize} for shape {list(shape)}")
    return np.frombuffer(data, dt).astype(dt.newbyteorder("=")).reshape(shape)


def check_scene(scene) -> AnchorScene:
    if not isinstance(scene, AnchorScene):
        raise InputError(f"anchor codecs encode an AnchorScene, got {type(scene).__name__}")
    return scene.detach().to("cpu").check()


# ---- the codec ------------------------------------------------------------------------------
@register_codec
class ScaffoldRawCodec:
    name = "scaffold-raw"
    version = CODEC_VERSION
    GROUPS: ClassVar[dict[str, str]] = {"location": "location", "feature": "feature", "scaling": "scaling", "offsets": "offsets",
              "masks": "masks", "mlp_decoder": "MLPs"}

    def __init__(self):
        self.last_stats: dict = {}

    def encode(self, scene: AnchorScene) -> bytes:
        scene = check_scene(scene)
        n, f, k = len(scene), scene.feat_dim, scene.n_offsets
        f32 = lambda t: t.to(torch.float32).numpy().astype("<f4").tobytes()
        mlp, table = pack_decoder_state(scene.decoder_state, "float32")
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

    def decode(self, data: bytes) -> AnchorScene:
        return self.decode_stream(data)

    @classmethod
    def decode_stream(cls, data: bytes) -> AnchorScene:
        header, sections = container.unpack(data)
        if header.get("codec") != cls.name:
            raise CorruptStreamError(f"stream is codec {header.get('codec')!r}, not {cls.name!r}")
        if read_count(header, "codec_version", 1, 1 << 16) > CODEC_VERSION:
            raise CorruptStreamError(f"{cls.name} stream version is newer than this decoder ({CODEC_VERSION})")
        n = read_count(header, "count", 0, MAX_ANCHORS)
        f = read_count(header, "feat_dim", 1, 4096)
        k = read_count(header, "n_offsets", 1, 1024)
        t = lambda name, shape: torch.from_numpy(raw_array(need(sections, name), "f4", shape, name).copy())
        anchors, feats, scaling, offsets = t("location", (n, 3)), t("feature", (n, f)), t("scaling", (n, 6)), t("offsets", (n, k, 3))
        mb = need(sections, "masks")
        if len(mb) != (n * k + 7) // 8:
            raise CorruptStreamError(f"masks: {len(mb)} bytes, expected {(n * k + 7) // 8}")
        mask = np.unpackbits(np.frombuffer(mb, np.uint8))[: n * k].astype(bool).reshape(n, k)
        state = unpack_decoder_state(need(sections, "mlp_decoder"), header.get("decoder_tensors"))
        cfg = header.get("decoder_config", {})
        if not isinstance(cfg, dict):
            raise CorruptStreamError("decoder_config is not an object")
        return AnchorScene(anchors, feats, scaling, offsets, torch.from_numpy(mask), state, cfg, None)
