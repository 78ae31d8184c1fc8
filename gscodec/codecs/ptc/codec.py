"""The post-training codec ("ptc"): trained .ply scene -> self-contained .gsz -> scene.

Stages, each configured by PtcConfig: prune -> positions (grid quantization, lossless) ->
scalar quantization of scales / quaternions / opacity / SH DC -> SH rest by k-means vector
quantization (or scalar) -> lossless coding, either
  layout "entropy": Morton order, each attribute coded by the smallest of raw / fitted
                    per-channel categorical / context model (ANS), choice recorded per section;
  layout "image":   3D-to-2D sorting into a square grid, one lossless image per attribute
                    (the gsplat / GSCodec Studio PNG layout).
Everything the decoder needs (counts, ranges, codebook, config) is in the stream.
"""
from __future__ import annotations

import time

import numpy as np

from gscodec.codecs.base import StreamCodec
from gscodec.codecs.ptc import layouts, refine
from gscodec.codecs.ptc.attributes import from_channels, to_channels
from gscodec.codecs.ptc.config import PtcConfig, make_config
from gscodec.codecs.ptc.prune import PruneConfig, prune
from gscodec.codecs.registry import register_codec
from gscodec.coding import container
from gscodec.coding.positions import dequantize_positions, quantize_positions
from gscodec.coding.schema import PtcHeader
from gscodec.coding.stream import header_fields
from gscodec.coding.symbols import dequantize_uniform, quantize_uniform
from gscodec.errors import CorruptStreamError
from gscodec.scene import GaussianScene
from gscodec.utils.progress import no_stages

CODEC_VERSION = 4  # 4: importance refinement (refine.py); 3: neighbour-context sections; 2: sh_rest_step; reads 1-3
SCALAR_ATTRS = ("scales", "quats", "opacity", "sh_dc")


@register_codec
class PostTrainingCodec(StreamCodec):
    name = "ptc"
    header_schema = PtcHeader
    version = CODEC_VERSION

    def __init__(self, preset: str = "default", quality: int = 3, prune: dict | None = None, **overrides):
        cfg = make_config(preset, quality, **overrides)
        if prune:
            cfg.prune = PruneConfig.from_dict({**cfg.prune.__dict__, **prune})
        self.config = cfg.validate()
        self.last_stats: dict = {}
        self.stage = no_stages  # callback naming each encode stage (the CLI shows it as progress)

    # ---- encode ----------------------------------------------------------------------
    def encode(self, scene: GaussianScene) -> bytes:
        cfg = self.config
        t0 = time.perf_counter()
        scene.check()
        self.stage("prune")
        scene, prune_stats = prune(scene.detach().to("cpu"), cfg.prune)
        ch = to_channels(scene)
        means = scene.means.numpy()
        n, degree = len(scene), scene.sh_degree

        self.stage("quantize")
        qpos, plo, phi = quantize_positions(means, cfg.position_bits)
        header = {
            "codec": self.name, "codec_version": CODEC_VERSION, "count": n, "sh_degree": degree,
            "bounds": [plo.tolist(), phi.tolist()], "config": cfg.to_dict(), "ranges": {},
            "prune": prune_stats,
        }
        symbols: dict[str, np.ndarray] = {}
        for name in SCALAR_ATTRS:
            symbols[name], lo, hi = quantize_uniform(ch[name], cfg.bits[name])
            header["ranges"][name] = [lo.tolist(), hi.tolist()]

        symbols["quat_index"] = ch["quat_index"]
        codebook = None
        if degree > 0 and cfg.sh_rest_mode == "scalar":
            lo, hi = _step_range(ch["sh_rest"], cfg.sh_rest_step, cfg.bits["sh_rest"]) if cfg.sh_rest_step > 0 else (None, None)
            symbols["sh_rest"], lo, hi = quantize_uniform(ch["sh_rest"], cfg.bits["sh_rest"], lo, hi)
            header["ranges"]["sh_rest"] = [lo.tolist(), hi.tolist()]
        elif degree > 0 and cfg.sh_rest_mode == "kmeans" and n > 0:
            self.stage(f"k-means SH rest ({min(cfg.codebook_size, n // 4 or 1)} entries)")
            codebook, labels = _vector_quantize(ch["sh_rest"], cfg)
            symbols["sh_labels"] = labels[:, None].astype(np.int32)
            header["codebook_size"] = int(len(codebook))

        self.stage("entropy coding")
        layout = layouts.get(cfg.layout)
        sections, order = layout.encode(qpos, symbols, codebook, header, cfg)
        if cfg.refine_max and n:
            sections += _refine_encode(means, ch, qpos, symbols, header, cfg, order)
        data = container.pack(header, sections)
        self.last_stats = {"encode_seconds": time.perf_counter() - t0, "prune": prune_stats, "bytes": len(data)}
        return data


    # ---- decode ----------------------------------------------------------------------
    @classmethod
    def decode_stream(cls, data: bytes) -> GaussianScene:
        header, sections = cls.unpack(data)
        with header_fields(cls.name):
            cfg = PtcConfig.from_dict(header["config"])
            n, degree = int(header["count"]), int(header["sh_degree"])
            plo, phi = (np.asarray(b, np.float32) for b in header["bounds"])
            ranges = {k: (np.asarray(v[0], np.float32), np.asarray(v[1], np.float32))
                      for k, v in header["ranges"].items()}
        if not 0 <= degree <= 3 or n < 0:
            raise CorruptStreamError(f"ptc header has an impossible count {n} or SH degree {degree}")
        layout = layouts.get(cfg.layout)
        qpos, symbols, codebook = layout.decode(sections, header, cfg, n, degree)

        means = dequantize_positions(qpos, cfg.position_bits, plo, phi)
        ch = {}
        for name in SCALAR_ATTRS:
            lo, hi = ranges[name]
            ch[name] = dequantize_uniform(symbols[name], cfg.bits[name], lo, hi)
        ch["quat_index"] = symbols["quat_index"]
        if "sh_rest" in symbols:
            lo, hi = ranges["sh_rest"]
            ch["sh_rest"] = dequantize_uniform(symbols["sh_rest"], cfg.bits["sh_rest"], lo, hi)
        elif codebook is not None:
            labels = symbols["sh_labels"][:, 0]
            if len(labels) and (labels.min() < 0 or labels.max() >= len(codebook)):
                raise CorruptStreamError("sh_labels refer to codebook entries that do not exist")
            ch["sh_rest"] = codebook[labels]
        if cfg.refine_max and n:
            attrs = _refined(symbols)
            with header_fields(cls.name):
                l0 = {a: float(header["refine"][a]) for a in attrs}
            means = _refine_decode(means, ch, (plo, phi), ranges, l0, sections, cfg, attrs)
        return from_channels(means, ch, degree)


def _refined(symbols: dict) -> tuple[str, ...]:
    """The attributes refined: all scalar-quantized ones (SH rest when coded as scalars)."""
    return refine.ATTRS + (("sh_rest",) if "sh_rest" in symbols else ())


def _refine_encode(means, ch, qpos, symbols, header, cfg, order) -> list:
    """The importance-refinement sections (refine.py), symbols in stream order; records the
    thresholds in the header."""
    plo, phi = (np.asarray(b, np.float32) for b in header["bounds"])
    base = {"positions": (dequantize_positions(qpos, cfg.position_bits, plo, phi),
                          refine.grid_step(plo, phi, cfg.position_bits), means)}
    attrs = _refined(symbols)
    for name in attrs[1:]:
        lo, hi = (np.asarray(v, np.float32) for v in header["ranges"][name])
        base[name] = (dequantize_uniform(symbols[name], cfg.bits[name], lo, hi),
                      refine.grid_step(lo, hi, cfg.bits[name]), ch[name])
    weights = refine.log2_weights(base["opacity"][0], base["scales"][0])
    l0 = {a: v for a, v in refine.thresholds(weights, cfg.refine_quantile).items() if a in attrs}
    header["refine"] = l0
    sections = []
    for a in attrs:
        b, step, x = base[a]
        r = refine.extra_bits(weights[a], l0[a], cfg.refine_max)
        e = refine.residuals(x, b, step, r)
        sections += refine.encode_sections(a, e[order], r[order], cfg.refine_max)
    return sections


def _refine_decode(means, ch, bounds, ranges, l0, sections, cfg, attrs) -> np.ndarray:
    """Adds the refinement to the base values: ch in place; returns the refined positions."""
    weights = refine.log2_weights(ch["opacity"], ch["scales"])  # from the base layer, before any refinement
    steps = {"positions": refine.grid_step(*bounds, cfg.position_bits),
             **{a: refine.grid_step(*ranges[a], cfg.bits[a]) for a in attrs[1:]}}
    values = {"positions": means, **{a: ch[a] for a in attrs[1:]}}
    for a in attrs:
        r = refine.extra_bits(weights[a], l0[a], cfg.refine_max)
        e = refine.decode_sections(sections, a, r, values[a].shape[1], cfg.refine_max)
        values[a] = refine.apply(values[a], steps[a], r, e)
    ch.update({a: values[a] for a in attrs[1:]})
    return values["positions"]


def _step_range(x: np.ndarray, step: float, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel [lo, hi] of a uniform quantizer with a fixed step that has 0 as a level: the
    error is the same (step^2 / 12) on every channel, which is rate-distortion optimal for
    orthonormal SH coefficients, and near-zero channels cost almost nothing after entropy
    coding. Only the encoder picks ranges; the decoder reads them, so the format is unchanged.
    The 2^bits levels are centred on the data; values beyond them are clamped."""
    levels = (1 << bits) - 1
    lo_i = np.floor(x.min(0) / step) if len(x) else np.zeros(x.shape[1])
    hi_i = np.ceil(x.max(0) / step) if len(x) else np.zeros(x.shape[1])
    over = np.maximum(hi_i - lo_i - levels, 0)  # too wide: clamp both tails evenly
    lo_i = np.maximum(lo_i + np.floor(over / 2), -levels)
    lo = (lo_i * step).astype(np.float32)
    return lo, (lo.astype(np.float64) + levels * step).astype(np.float32)


def _vector_quantize(sh_rest: np.ndarray, cfg: PtcConfig) -> tuple[np.ndarray, np.ndarray]:
    """k-means codebook over SH rest vectors (codebook capped at N / 4 entries)."""
    from gscodec.coding.kmeans import kmeans

    k = int(max(1, min(cfg.codebook_size, len(sh_rest) // 4 or 1)))
    sample = cfg.kmeans_sample if len(sh_rest) > cfg.kmeans_sample else None
    centroids, labels = kmeans(sh_rest, k, iters=cfg.kmeans_iters, seed=cfg.seed, sample=sample)
    return np.asarray(centroids, np.float32), np.asarray(labels, np.int64)
