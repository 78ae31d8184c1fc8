"""Encode at the smallest quality that reaches a render PSNR (`gscodec encode --target-psnr`).

Why renders and not attribute error: what a viewer sees is the image, and how much each
attribute's error costs there depends on the scene. The original is rendered once from orbit
cameras; each tried quality is encoded, decoded, rendered from the same cameras and scored
against those renders. PSNR grows with the quality level, so a binary search over the ladder
needs ~log2(8) = 3 encodes. Then, for the entropy layout, allocate.py looks for per-attribute
widths around the level found that reach the target with fewer bytes; the smaller of the two
streams that reach it is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gscodec.codecs.ptc.config import QUALITIES
from gscodec.utils.progress import no_stages


class OrbitReference:
    """Renders of the original from `views` orbit cameras (black background), made once;
    `psnr(scene)` is the mean PSNR of a scene's renders against them."""

    def __init__(self, scene, views: int = 6, resolution: int = 160):
        import torch

        from gscodec.scoring import auto_orbit
        from gscodec.render import render

        self.cameras = auto_orbit(scene, views, resolution)
        with torch.no_grad():
            self.refs = [render(scene, c, background=(0.0, 0.0, 0.0)).image.clamp(0, 1) for c in self.cameras]

    def psnr(self, scene) -> float:
        from gscodec.metrics import psnr_from_mse

        if len(scene) == 0:
            return float("-inf")
        values = [psnr_from_mse(m) for m in self.view_mse(scene)]
        return min(sum(values) / len(values), 200.0)  # identical renders: inf, reported as 200 dB

    def view_mse(self, scene) -> np.ndarray:
        """[views] mean squared error of a scene's renders against the references (float64)."""
        import torch

        from gscodec.metrics import mse
        from gscodec.render import render

        with torch.no_grad():
            return np.array([mse(render(scene, c, background=(0.0, 0.0, 0.0)).image.clamp(0, 1), ref)
                             for c, ref in zip(self.cameras, self.refs)])


@dataclass
class TargetResult:
    data: bytes
    quality: int
    psnr: float
    reached: bool
    tried: dict[int, tuple[int, float]] = field(default_factory=dict)  # quality -> (bytes, PSNR)
    allocated: dict | None = None  # the widths chosen per attribute, when they beat the ladder level
    ladder_bytes: int | None = None  # the ladder level's stream size (for the report)
    allocation_note: str = ""  # why no per-attribute widths were used (empty when they were)
    predicted_psnr: float | None = None  # what the allocation's model predicted for its stream


def encode_for_psnr(scene, target_db: float, *, views: int = 6, resolution: int = 160,
                    stage=no_stages, allocate: bool = True, **codec_options) -> TargetResult:
    """Smallest ptc quality whose decoded renders reach `target_db` (binary search over the
    ladder); the top quality when none does (`reached` is False then). With `allocate` (entropy
    layout), per-attribute widths around that level replace it when they reach the target in
    fewer bytes."""
    import math

    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.errors import InputError

    if not math.isfinite(target_db):
        raise InputError(f"the target PSNR must be a finite number of dB, got {target_db}")
    stage("renders of the original")
    ref = OrbitReference(scene, views, resolution)
    tried: dict[int, tuple[int, float]] = {}
    streams: dict[int, bytes] = {}

    def score(q: int) -> float:
        if q not in tried:
            codec = get_codec("ptc", quality=q, **codec_options)
            codec.stage = lambda s: stage(f"q{q}: {s}")
            data = codec.encode(scene)
            stage(f"q{q}: decode and render")
            tried[q] = (len(data), ref.psnr(decode_bytes(data, max_splats=None)))
            streams[q] = data
        return tried[q][1]

    lo, hi = 0, len(QUALITIES) - 1  # invariant: every level below lo misses; the answer is <= hi or none
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if score(QUALITIES[mid]) >= target_db:
            best, hi = QUALITIES[mid], mid - 1
        else:
            lo = mid + 1
    reached = best is not None
    if best is None:
        best = QUALITIES[-1]
        score(best)
    result = TargetResult(streams[best], best, tried[best][1], reached, dict(sorted(tried.items())),
                          ladder_bytes=tried[best][0])
    cfg = get_codec("ptc", quality=best, **codec_options).config
    pinned = sorted({"position_bits", "bits"} & set(codec_options))
    result.allocation_note = ("not asked for" if not allocate else "the target is not reached" if not reached
                              else f"the {cfg.layout} layout has fixed widths" if cfg.layout != "entropy"
                              else f"widths given ({', '.join(pinned)}) are kept" if pinned
                              else "empty scene" if not len(scene) else "")
    if not result.allocation_note:
        from gscodec.codecs.ptc.allocate import allocate as allocate_widths

        alloc = allocate_widths(scene, ref, target_db, cfg, {"quality": best, **codec_options}, streams[best], stage)
        if alloc is not None and len(alloc.data) < len(result.data):
            result.data, result.psnr, result.allocated = alloc.data, alloc.psnr, alloc.overrides()
            result.predicted_psnr = alloc.predicted_psnr
        else:
            result.allocation_note = f"none found smaller than quality {best}"
    return result


__all__ = ["OrbitReference", "TargetResult", "encode_for_psnr"]
