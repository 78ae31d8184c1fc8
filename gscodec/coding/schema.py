"""Typed schemas of the .gsz headers (#22), checked before anything is decoded.

Why: a forged header used to reach the decoders, which failed somewhere inside with a
TypeError or, worse, allocated what a field asked for. Each codec names its header's
msgspec Struct (`header_schema`); StreamCodec.unpack converts the header through it, so a
field of the wrong type, out of its range, outside its enumeration or inconsistent with
another field is refused with one line naming it:
    header field 'config.bits.scales' must be an int <= 16, got 17
Unknown fields are ignored (older and newer writers add some); the decoders still read the
dict, the schema only vouches for it. Also here: the JSON nesting/size bounds the container
applies when it parses a header, and the bound of a stream's declared size by its bytes.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Optional

import msgspec
from msgspec import Meta

from gscodec.coding.neighbour_context import MAX_K, MAX_LEVELS
from gscodec.errors import CorruptStreamError

MAX_DEPTH = 32  # legitimate headers nest 6 deep
MAX_NODES = 1 << 20
SPLATS_PER_BYTE = 64  # real streams cost >= ~1 byte per splat; a stream declaring 64x more is forged
SPLAT_FLOOR = 1 << 16  # any stream may declare this many

# ---- shared pieces ----------------------------------------------------------------------------
Count = Annotated[int, Meta(ge=0, le=1 << 31)]
Bits16 = Annotated[int, Meta(ge=1, le=16)]
PosBits = Annotated[int, Meta(ge=1, le=21)]
Prob = Annotated[float, Meta(ge=0.0, le=1.0)]
MAX_REFINE = 6  # ptc's importance refinement: extra bits at most (codecs/ptc/refine.py)
Real = Annotated[float, Meta(ge=-3.5e38, le=3.5e38)]  # float32 range: the encoder writes float32 values
Small = Annotated[int, Meta(ge=-(1 << 31), le=1 << 31)]
Vec3 = Annotated[list[Real], Meta(min_length=3, max_length=3)]
Bounds = Annotated[list[Vec3], Meta(min_length=2, max_length=2)]
Channels = Annotated[list[Real], Meta(max_length=4096)]
Dtype = Literal["float16", "float32"]
TensorEntry = Annotated[list[Any], Meta(min_length=2, max_length=5)]
TensorTable = Annotated[list[TensorEntry], Meta(max_length=256)]
Name = Annotated[str, Meta(max_length=64)]


class Base(msgspec.Struct, forbid_unknown_fields=False):
    codec: str
    codec_version: Annotated[int, Meta(ge=1, le=1 << 16)]


def _same_length(what: str, *lists) -> None:
    lens = {len(v) for v in lists if v is not None}
    if len(lens) > 1:
        raise ValueError(f"{what}: lists of different lengths {sorted(lens)}")


class GridModel(msgspec.Struct, forbid_unknown_fields=False):
    """The hash-grid context of HAC-family models and of the learned attribute models: its
    table sizes and hidden width decide what the decoder allocates."""

    hidden: Annotated[int, Meta(ge=1, le=4096)] = 32
    features_per_level: Annotated[int, Meta(ge=1, le=64)] = 2
    grid3d_table_log2: Annotated[int, Meta(ge=1, le=24)] = 13
    grid2d_table_log2: Annotated[int, Meta(ge=1, le=24)] = 15
    grid3d_resolutions: Annotated[list[Annotated[int, Meta(ge=1, le=1 << 16)]], Meta(max_length=32)] = []
    grid2d_resolutions: Annotated[list[Annotated[int, Meta(ge=1, le=1 << 16)]], Meta(max_length=32)] = []
    feat_dim: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    n_offsets: Optional[Annotated[int, Meta(ge=1, le=1024)]] = None
    feature_chunks: Annotated[list[Annotated[int, Meta(ge=1, le=4096)]], Meta(max_length=4096)] = []
    n_experts: Annotated[int, Meta(ge=1, le=64)] = 1
    expert_hidden: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    lo_hidden: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    ar_dim: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    ar_neighbours: Optional[Annotated[int, Meta(ge=0, le=1024)]] = None
    ar_field: Optional[Annotated[int, Meta(ge=1, le=255)]] = None
    scaling_domain: Literal["log", "exp"] = "log"

    def __post_init__(self):
        if self.feat_dim is not None and self.feature_chunks and sum(self.feature_chunks) != self.feat_dim:
            raise ValueError(f"feature_chunks sum to {sum(self.feature_chunks)}, not feat_dim {self.feat_dim}")


# ---- ptc --------------------------------------------------------------------------------------
class PtcBits(msgspec.Struct, forbid_unknown_fields=False):
    opacity: Bits16
    quats: Bits16
    scales: Bits16
    sh_dc: Bits16
    sh_rest: Bits16 = 8


class PtcConfigSchema(msgspec.Struct, forbid_unknown_fields=False):
    bits: PtcBits
    position_bits: PosBits
    layout: Literal["entropy", "image"] = "entropy"
    sh_rest_mode: Literal["kmeans", "scalar", "drop"] = "kmeans"
    image_method: Literal["auto", "png", "webp", "jxl"] = "auto"
    codebook_bits: Bits16 = 8
    neighbour_levels: Annotated[int, Meta(ge=1, le=MAX_LEVELS)] = 7  # the neighbour-context graph (v3)
    neighbour_k: Annotated[int, Meta(ge=1, le=MAX_K)] = 8
    neighbour_window: Annotated[int, Meta(ge=1, le=MAX_K)] = 12
    refine_max: Annotated[int, Meta(ge=0, le=MAX_REFINE)] = 0  # importance refinement (v4)


Range = Annotated[list[Channels], Meta(min_length=2, max_length=2)]


class PtcHeader(Base):
    count: Count
    sh_degree: Annotated[int, Meta(ge=0, le=3)]
    bounds: Bounds
    config: PtcConfigSchema
    ranges: Annotated[dict[Name, Range], Meta(max_length=16)]
    codebook_size: Annotated[int, Meta(ge=0, le=1 << 20)] = 0
    grid_side: Optional[Annotated[int, Meta(ge=0, le=1 << 16)]] = None
    refine: Optional[Annotated[dict[Name, Real], Meta(max_length=8)]] = None  # thresholds L0 (v4)

    def __post_init__(self):
        for name, (lo, hi) in self.ranges.items():
            _same_length(f"ranges.{name}", lo, hi)
        need = {"opacity", "quats", "scales", "sh_dc"}
        if self.sh_degree and self.config.sh_rest_mode == "scalar":
            need.add("sh_rest")
        if need - set(self.ranges):
            raise ValueError(f"ranges lacks {', '.join(sorted(need - set(self.ranges)))}")


# ---- anchor codecs ----------------------------------------------------------------------------
SymbolRange = Annotated[list[Annotated[int, Meta(ge=-(1 << 30), le=1 << 30)]], Meta(min_length=2, max_length=2)]


class DecoderConfig(msgspec.Struct, forbid_unknown_fields=False):
    """The Scaffold-GS / Predict-GS decoder networks: their widths and the feature pool's hash
    grid decide what the decoder builds before loading the weights."""

    feat_dim: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    n_offsets: Optional[Annotated[int, Meta(ge=1, le=1024)]] = None
    hidden_dim: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    pred_dim: Optional[Annotated[int, Meta(ge=1, le=4096)]] = None
    voxel_size: Optional[Annotated[float, Meta(gt=0, le=1e30)]] = None
    mask_threshold: Optional[Real] = None
    mlps: Annotated[dict[Name, Annotated[str, Meta(max_length=64)]], Meta(max_length=16)] = {}
    pool: Optional[GridModel] = None


class RawAnchorHeader(Base):
    count: Annotated[int, Meta(ge=0, le=1 << 26)]
    feat_dim: Annotated[int, Meta(ge=1, le=4096)]
    n_offsets: Annotated[int, Meta(ge=1, le=1024)]
    decoder_tensors: TensorTable = []
    decoder_config: DecoderConfig = msgspec.field(default_factory=DecoderConfig)

    def __post_init__(self):
        d = self.decoder_config
        if d.feat_dim not in (None, self.feat_dim) or d.n_offsets not in (None, self.n_offsets):
            raise ValueError("decoder_config: feat_dim / n_offsets disagree with the stream's")


class AnchorHeader(RawAnchorHeader):
    position_bits: PosBits = 16
    bounds: Optional[Bounds] = None
    mask_p: Annotated[list[Annotated[list[Prob], Meta(min_length=2, max_length=2)]], Meta(max_length=1024)] = []
    mlp_dtype: Dtype = "float16"
    context_dtype: Dtype = "float32"
    context_bounds: Optional[Bounds] = None
    hash_p: Optional[Prob] = None
    ranges: Annotated[dict[Name, Annotated[list[SymbolRange], Meta(max_length=1024)]], Meta(max_length=8)] = {}
    decoder_sections: Annotated[dict[Name, TensorTable], Meta(max_length=8)] = {}
    hac: Optional[GridModel] = None
    mop: Optional[GridModel] = None
    hemgs: Optional[GridModel] = None
    mop_weights: Optional[Annotated[dict[Name, Channels], Meta(max_length=8)]] = None
    hemgs_lambda: Optional[Real] = None
    hemgs_voxel: Optional[Real] = None
    hemgs_sa: Optional[Annotated[str, Meta(max_length=64)]] = None

    def __post_init__(self):
        super().__post_init__()
        if len(self.mask_p) != self.n_offsets:
            raise ValueError(f"mask_p has {len(self.mask_p)} slots, n_offsets is {self.n_offsets}")
        for key in ("hac", "mop", "hemgs"):
            m = getattr(self, key)
            if m is not None and (m.feat_dim not in (None, self.feat_dim) or m.n_offsets not in (None, self.n_offsets)):
                raise ValueError(f"{key}: feat_dim / n_offsets disagree with the stream's")


# ---- learned-attribute codecs (static, dynamic) ------------------------------------------------
class LearnedAttribute(msgspec.Struct, forbid_unknown_fields=False):
    mode: Literal["grid", "uniform"]
    lo: Channels
    hi: Channels
    origin: Optional[Channels] = None
    step: Optional[Channels] = None
    center: Optional[Small] = None
    bits: Optional[Bits16] = None  # absent when a learned model codes the attribute

    def __post_init__(self):
        _same_length("lo/hi/origin/step", self.lo, self.hi, self.origin, self.step)
        if self.mode == "grid" and (self.origin is None or self.step is None):
            raise ValueError("a grid attribute needs origin and step")


class EntropyEntry(msgspec.Struct, forbid_unknown_fields=False):
    weights: TensorTable
    hash_p: Optional[Prob] = None


class GridSchema(msgspec.Struct, forbid_unknown_fields=False):
    hidden: Annotated[int, Meta(ge=1, le=4096)] = 32
    features_per_level: Annotated[int, Meta(ge=1, le=64)] = 2
    levels_3d: Annotated[int, Meta(ge=0, le=32)] = 6
    levels_2d: Annotated[int, Meta(ge=0, le=32)] = 2
    table_log2_3d: Annotated[int, Meta(ge=1, le=24)] = 10
    table_log2_2d: Annotated[int, Meta(ge=1, le=24)] = 10
    resolutions_3d: Annotated[list[Annotated[int, Meta(ge=1, le=1 << 16)]], Meta(max_length=32)] = []
    resolutions_2d: Annotated[list[Annotated[int, Meta(ge=1, le=1 << 16)]], Meta(max_length=32)] = []


class SimSchema(msgspec.Struct, forbid_unknown_fields=False):
    bits: dict[Name, Bits16] = {}
    entropy_model: Optional[Literal["factorized", "gaussian"]] = None
    grid: Optional[GridSchema] = None


Attributes = Annotated[dict[Name, LearnedAttribute], Meta(max_length=32)]
Entropy = Annotated[dict[Name, EntropyEntry], Meta(max_length=32)]


class ShRest(msgspec.Struct, forbid_unknown_fields=False):
    active: Count = 0
    codebook_size: Annotated[int, Meta(ge=0, le=1 << 20)] = 0
    codebook_bits: Bits16 = 8
    mask_p: Prob = 1.0
    codebook_lo: Channels = []
    codebook_hi: Channels = []

    def __post_init__(self):
        _same_length("codebook_lo/codebook_hi", self.codebook_lo, self.codebook_hi)


class StaticHeader(Base):
    count: Count
    position_bits: PosBits
    sh_degree: Annotated[int, Meta(ge=0, le=3)]
    bounds: Bounds
    attributes: Attributes
    entropy: Entropy = {}
    sim: Optional[SimSchema] = None
    sh_rest: Optional[ShRest] = None


class Gof(msgspec.Struct, forbid_unknown_fields=False):
    count: Count
    bounds: Bounds
    attributes: Attributes
    frames: Annotated[list[Annotated[int, Meta(ge=0, le=1 << 24)]], Meta(min_length=2, max_length=2)]
    decoder: TensorTable = []
    entropy: Entropy = {}
    sections: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=1024)] = []
    moving: Optional[Count] = None
    moving_p: Optional[Prob] = None
    time: Optional[Annotated[list[Real], Meta(min_length=2, max_length=2)]] = None
    sim: Optional[SimSchema] = None

    def __post_init__(self):
        if self.frames[0] >= self.frames[1]:
            raise ValueError(f"frames {self.frames} are empty")
        if self.moving is not None and self.moving > self.count:
            raise ValueError(f"{self.moving} moving splats of {self.count}")


class DynamicHeader(Base):
    count: Count
    fps: Annotated[float, Meta(gt=0, le=1e4)]
    n_frames: Annotated[int, Meta(ge=1, le=1 << 24)]
    gofs: Annotated[list[Gof], Meta(min_length=1, max_length=4096)]

    def __post_init__(self):
        if sum(g.count for g in self.gofs) != self.count:
            raise ValueError(f"GOF counts sum to {sum(g.count for g in self.gofs)}, not count {self.count}")


# ---- checking ---------------------------------------------------------------------------------
_AT = re.compile(r"^(.*?)(?: - at `\$(.*)`)?$", re.S)


def _value_at(header, path: str):
    cur = header
    for key in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        try:
            cur = cur[key[0]] if key[0] else cur[int(key[1])]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def validate(header: dict, schema: type) -> Any:
    """`header` converted through `schema`, or one CorruptStreamError naming the field."""
    try:
        return msgspec.convert(header, schema, strict=True)
    except msgspec.ValidationError as e:
        what, path = _AT.match(str(e)).groups()
        field = (path or "").lstrip(".")
        missing = re.match(r"Object missing required field `(.*)`", what)
        if missing:
            field = f"{field}.{missing.group(1)}".lstrip(".")
            raise CorruptStreamError(f"header field '{field}' is missing") from None
        where = f"header field '{field or '(top)'}'"
        if not what.startswith(("Expected", "Invalid")):  # a consistency check of the schema's own
            raise CorruptStreamError(f"{where}: {what}") from None
        value = _value_at(header, path or "")
        if what.startswith("Invalid enum value"):
            raise CorruptStreamError(f"{where} is not one of its allowed values, got {json.dumps(value)[:60]}") from None
        expect = what.replace("Expected", "must be").replace("`", "")
        expect = re.sub(r", got \w+$", "", expect)
        shown = json.dumps(value)[:60] if value is not None or path else ""
        raise CorruptStreamError(f"{where} {expect}" + (f", got {shown}" if shown else "")) from None


def parse_json(raw: bytes) -> dict:
    """The header object, refused when it nests deeper than MAX_DEPTH or holds more than
    MAX_NODES values (json's own recursion would end in a RecursionError)."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise CorruptStreamError(f"header JSON nests deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise CorruptStreamError(f"header is not valid UTF-8 JSON ({str(e)[:80]})") from None
    if not isinstance(obj, dict):
        raise CorruptStreamError("header JSON is not an object")
    stack, nodes = [(obj, 1)], 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise CorruptStreamError(f"header JSON nests deeper than {MAX_DEPTH} levels")
        if nodes > MAX_NODES:
            raise CorruptStreamError(f"header JSON holds more than {MAX_NODES} values")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return obj


def check_size(header: dict, file_bytes: int) -> None:
    """A stream may declare at most SPLATS_PER_BYTE Gaussians (anchors x offsets) per byte of
    its file (and SPLAT_FLOOR whatever its size): what its decode allocates is then bounded
    by a small multiple of what a real stream of that size holds."""
    count, k = header.get("count"), header.get("n_offsets", 1)
    if isinstance(count, int) and isinstance(k, int) and not isinstance(count, bool):
        limit = max(SPLAT_FLOOR, SPLATS_PER_BYTE * file_bytes)
        if count * max(k, 1) > limit:
            raise CorruptStreamError(f"header field 'count' declares {count * max(k, 1)} Gaussians, more than a "
                                     f"{file_bytes}-byte stream can hold (at most {limit})")


__all__ = ["AnchorHeader", "DynamicHeader", "PtcHeader", "RawAnchorHeader", "StaticHeader", "check_size",
           "parse_json", "validate"]
