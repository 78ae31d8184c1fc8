"""Configuration of the post-training codec: one dataclass, presets, and a quality knob."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from gscodec.codecs.ptc.prune import PruneConfig
from gscodec.codecs.ptc.refine import MAX_REFINE
from gscodec.coding.neighbour_context import NeighbourConfig
from gscodec.errors import InputError
from gscodec.utils.config import ConfigBase

ATTRIBUTES = ("scales", "quats", "opacity", "sh_dc", "sh_rest")


@dataclass
class PtcConfig(ConfigBase):
    """Every stage can be switched and tuned here; the resolved config travels in the header."""

    WHAT: ClassVar[str] = "ptc config"
    NESTED: ClassVar[dict] = {"prune": PruneConfig}

    preset: str = "default"
    prune: PruneConfig = field(default_factory=PruneConfig)
    position_bits: int = 16
    # scalar quantization bit width per attribute (sh_rest only when sh_rest_mode == "scalar")
    bits: dict[str, int] = field(default_factory=lambda: {
        "scales": 8, "quats": 8, "opacity": 8, "sh_dc": 8, "sh_rest": 6})
    sh_rest_mode: str = "kmeans"  # "kmeans" (vector quantization), "scalar", or "drop"
    # scalar SH rest: fixed quantizer step (colour units; 0 = each channel's min..max in 2^bits levels)
    sh_rest_step: float = 0.0
    codebook_size: int = 4096  # k-means codebook entries (capped at N / 4)
    codebook_bits: int = 8  # precision of the stored codebook
    kmeans_iters: int = 10
    kmeans_sample: int = 200_000  # fit the codebook on this many vectors, then label all
    # "entropy": Morton order + learned/adaptive ANS coding (our default);
    # "image": 3D-to-2D sorting + lossless images (the gsplat / GSCodec Studio layout)
    layout: str = "entropy"
    image_method: str = "auto"  # png | webp | jxl | auto (smallest), for layout == "image"
    # layout "entropy": also try coding scales / quats / opacity / SH DC from already-decoded
    # spatial neighbours (coding/neighbour_context.py), kept per attribute only where smaller
    neighbour_context: bool = True
    neighbour_levels: int = 7  # levels of detail (level 0: 1 / 2^(levels-1) of the points)
    neighbour_k: int = 8  # neighbours that predict each point ...
    neighbour_window: int = 12  # ... the nearest of this many earlier-level points each side in Morton order
    # importance refinement (refine.py): up to refine_max extra bits for the splats whose errors
    # show most (opacity, footprint); the splats below the refine_quantile of each attribute's
    # weight get none. 0 = off (streams from before v4), the default preset sets it
    refine_max: int = 0
    refine_quantile: float = 0.5
    seed: int = 0

    def validate(self) -> "PtcConfig":
        if not 4 <= self.position_bits <= 21:
            raise InputError(f"position_bits must be in 4..21, got {self.position_bits}")
        for name, b in self.bits.items():
            if name not in ATTRIBUTES:
                raise InputError(f"unknown attribute {name!r} in bits; known: {', '.join(ATTRIBUTES)}")
            if not 1 <= int(b) <= 16:
                raise InputError(f"bits[{name}] must be in 1..16, got {b}")
        if self.sh_rest_mode not in ("kmeans", "scalar", "drop"):
            raise InputError(f"sh_rest_mode must be kmeans, scalar or drop, got {self.sh_rest_mode!r}")
        if self.layout not in ("entropy", "image"):
            raise InputError(f"layout must be 'entropy' or 'image', got {self.layout!r}")
        if not self.sh_rest_step >= 0:
            raise InputError(f"sh_rest_step must be >= 0, got {self.sh_rest_step}")
        NeighbourConfig(self.neighbour_levels, self.neighbour_k, self.neighbour_window).validate()  # its bounds
        if not 0 <= self.refine_max <= MAX_REFINE:
            raise InputError(f"refine_max must be in 0..{MAX_REFINE}, got {self.refine_max}")
        if not 0.0 <= self.refine_quantile <= 1.0:
            raise InputError(f"refine_quantile must be in 0..1, got {self.refine_quantile}")
        if self.codebook_size < 1:
            raise InputError("codebook_size must be at least 1")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)



# The base grids, by level: quality 1 (smallest) .. 8 (closest to the original) of the
# "uniform" preset, which Static GSCodec and Dynamic GSCodec share; the default preset's
# quality q takes level q - 1 plus importance refinement (refine.py), which on real scenes
# lands above level q's PSNR in fewer bytes (guitar: level 2 + refinement 861 KB at 63.5 dB,
# level 3 896 KB at 60.9 dB); level 0 exists for it alone. q1-q4 code SH rest with
# a k-means codebook (small, but its fidelity saturates: a codebook of <= a few thousand
# entries cannot follow 500k distinct SH vectors); q5-q8 quantize it with a fixed step and
# entropy code it (bytes grow with fidelity without a ceiling, no k-means to run, so they also
# encode faster). Calibrated on real scenes (bench/results/ptc_vs_peers.md).
def _bits(b: int, rest: int) -> dict[str, int]:
    return dict(scales=b, quats=b, opacity=b, sh_dc=b, sh_rest=rest)


def _scalar(step: float) -> dict:
    return dict(sh_rest_mode="scalar", sh_rest_step=step)


_QUALITY = {
    0: dict(position_bits=11, bits=_bits(4, 3), codebook_size=256, codebook_bits=6),
    1: dict(position_bits=12, bits=_bits(5, 4), codebook_size=256, codebook_bits=6),
    2: dict(position_bits=13, bits=_bits(6, 4), codebook_size=256, codebook_bits=6),
    3: dict(position_bits=14, bits=_bits(7, 5), codebook_size=512, codebook_bits=7),
    4: dict(position_bits=16, bits=_bits(8, 6), codebook_size=1024, codebook_bits=8),
    # codebook_size / codebook_bits stay for Static GSCodec, which takes ptc's ladder
    5: dict(position_bits=18, bits=_bits(10, 10), codebook_size=4096, codebook_bits=8, **_scalar(0.02)),
    6: dict(position_bits=19, bits=_bits(11, 11), codebook_size=4096, codebook_bits=8, **_scalar(0.01)),
    7: dict(position_bits=20, bits=_bits(12, 12), codebook_size=4096, codebook_bits=8, **_scalar(0.005)),
    8: dict(position_bits=21, bits=_bits(14, 13), codebook_size=4096, codebook_bits=8, **_scalar(0.002)),
}
QUALITIES = tuple(q for q in _QUALITY if q >= 1)

PRESETS = {
    # our best methods: entropy-coded Morton-ordered streams, important splats refined
    "default": dict(layout="entropy", refine_max=3),
    # the same streams with one grid for every splat (v3's default; the widths the trained
    # codecs take from the ladder)
    "uniform": dict(layout="entropy"),
    # the gsplat PNG layout (GSCodec Studio's post-training compression): PLAS-style sort,
    # one lossless PNG per attribute, 64k-entry k-means codebook for SH rest, in one file
    "gsplat-png": dict(layout="image", image_method="png", codebook_size=65536, sh_rest_mode="kmeans"),
}


LADDER_SHIFT = {"default": 1}  # quality q of these presets takes the base grids of level q - shift


def make_config(preset: str = "default", quality: int = 3, **overrides) -> PtcConfig:
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
    if quality not in QUALITIES:  # level 0 is a base grid, not a quality
        raise InputError(f"quality must be {QUALITIES[0]}..{QUALITIES[-1]}, got {quality}")
    kw: dict = {**_QUALITY[quality - LADDER_SHIFT.get(preset, 0)], **PRESETS[preset], "preset": preset}
    if preset == "gsplat-png":  # gsplat's layout has fixed bit depths
        kw.update(position_bits=16, bits=_bits(8, 6), codebook_bits=8, sh_rest_step=0.0)
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(PtcConfig)} - {"preset"})
    if unknown:
        raise InputError(f"ptc has no option {', '.join(unknown)}")
    if isinstance(overrides.get("bits"), dict):  # a partial bits dict changes only the widths it names
        overrides = {**overrides, "bits": {**kw["bits"], **overrides["bits"]}}
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return PtcConfig(**kw).validate()
