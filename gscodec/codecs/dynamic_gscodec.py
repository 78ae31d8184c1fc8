"""Dynamic GSCodec (GSCodec Studio V-B / VI-B): Spacetime Gaussians, one section group per
group of frames (GOF), and an index in the header so a player decodes one GOF alone.

Per GOF k (sections `g{k}.*`):
  prune (splats whose spatial x temporal opacity never reaches 1/255 for tau in [0, 1]) ->
  positions (grid + Morton + delta, lossless on the grid, as Static GSCodec) ->
  the moving/static mask as bits (motion and angular velocity only for moving splats) ->
  every other attribute as integer symbols on the simulation's grid:
    entropy-constrained ones: the learned factorized distribution (weights in the stream)
      or the best post-training symbol coder, whichever is smaller (recorded per section);
    the others (the paper's rule): 3D-to-2D mapping + lossless images, or the best symbol
      coder, whichever is smaller ->
  the decoder MLP as float32.
A GOF without a simulation is quantized uniformly at the quality's bit width and every
attribute takes the image-or-symbols path. As in Static GSCodec the encoder rebuilds the
learned models from the bytes it stores, so both sides compute the coder's tables from
identical weights (float64, CPU).

The 2-D layout: decoded (Morton) order laid along a Z-curve over the image grid
(gscodec.coding.sort.morton_grid_order of the decoded positions). Why not the PLAS sort
(sort_into_grid): its order would have to travel (N log2 N bits, more than the images save
on a GOF) or be recomputed by the decoder with numba fastmath, which is not bit-reproducible
across CPUs; the Z-curve order is plain integer / float64 arithmetic on decoded data.

Robustness: a GOF's per-splat sections (positions, mask, attributes) hold at least one byte
per splat (the encoder stores features raw in the one degenerate case where they would not),
so the decoder refuses a count the file cannot hold before allocating anything sized by it;
image sizes are read from the PNG / WebP headers and checked before decoding.
"""
from __future__ import annotations

import struct
import time

import numpy as np
import torch

from gscodec.codecs import learned_attributes as la
from gscodec.codecs.base import StreamCodec
from gscodec.codecs.ptc.config import make_config
from gscodec.codecs.ptc.layouts import _from_planes, _n_planes, _to_planes
from gscodec.codecs.registry import register_codec
from gscodec.coding import ans, container
from gscodec.coding.container import Section
from gscodec.coding.schema import DynamicHeader
from gscodec.coding.image import decode_image, encode_image
from gscodec.coding.positions import (
    decode_positions,
    dequantize_positions,
    encode_positions,
    quantize_positions,
)
from gscodec.coding.sort import from_grid, grid_shape, morton_grid_order, to_grid
from gscodec.coding.stream import (
    frame,
    header_fields,
    need_section,
    pack_tensors,
    unframe,
    unpack_tensors,
)
from gscodec.coding.symbols import METHODS as SYMBOL_METHODS
from gscodec.coding.symbols import (
    decode_best,
    dequantize_uniform,
    encode_best,
    encode_symbols,
    quantize_uniform,
)
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene.spacetime import (
    ATTRIBUTES,
    DECODER_SHAPES,
    SpacetimeScene,
    SpacetimeSequence,
)
from gscodec.simulate.spacetime_sim import CHANNELS, MOVING, to_channels

CODEC_VERSION = 1
MAX_GOFS = 80  # ~12 sections per GOF: the container's 1024 sections suffice
MAX_GOF_SPLATS = 1 << 25
IMAGE_METHODS = ("png", "webp")  # lossless, and their headers state the image size before decoding
MIN_IMAGE_ROWS = 16  # below this an image's fixed overhead always loses


# ---- encoder helpers ---------------------------------------------------------------------------
def _prune(g: SpacetimeScene) -> tuple[torch.Tensor, dict]:
    """Keep splats whose opacity reaches 1/255 somewhere in the GOF: spatial opacity times the
    temporal peak over tau in [0, 1] (at t_center clamped into it). The rasterizer skips alpha
    below 1/255, so the others never show."""
    p = g.attributes()
    spatial = torch.sigmoid(p["opacity_logits"])
    tc = p["t_center"].clamp(0, 1)
    temporal = torch.exp(-((tc - p["t_center"]) / p["t_log_scale"].exp()) ** 2)
    keep = spatial * temporal >= 1.0 / 255
    low = spatial < 1.0 / 255
    stats = {"low_opacity": int(low.sum()), "never_visible": int((~keep & ~low).sum()), "kept": int(keep.sum())}
    return keep, stats


def _moving(g: SpacetimeScene, sim, ch: dict) -> np.ndarray:
    """Bool [N]: splats that store motion: the simulation's mask, else the scene's `static`,
    else the splats with any non-zero motion or angular velocity."""
    if sim is not None and sim.moving() is not None:
        m = sim.moving().detach().cpu().numpy().astype(bool)
    elif g.static is not None:
        m = ~g.static.cpu().numpy().astype(bool)
    else:
        m = ((ch["motion"] != 0).any(1) | (ch["omega"] != 0).any(1)).numpy()
    if m.shape != (len(g),):
        raise InputError(f"the static/moving mask covers {len(m)} splats, the GOF has {len(g)}")
    return m


def _started(sim) -> bool:
    return sim is not None and hasattr(sim, "quantizers") and bool(getattr(sim, "started", False))


class _ImageOrSymbols:
    """post(q, bits) for encode_grid: lossless images on the Z-curve grid of `xyz`, or the best
    symbol coder, whichever is smaller; `tried` keeps both sizes for the stats. raw: bit-packed
    symbols only (>= 1 bit a value: the per-splat floor of a degenerate GOF)."""

    def __init__(self, xyz: np.ndarray, raw: bool = False):
        self.xyz, self.raw, self.tried = xyz, raw, {}

    def __call__(self, q: np.ndarray, bits: int) -> tuple[bytes, str]:
        if self.raw:
            return encode_symbols(q, bits, "raw"), "raw"
        data, method = encode_best(q, bits)[:2]
        self.tried = {"symbols_bytes": len(data), "symbols_method": method}
        if len(q) >= MIN_IMAGE_ROWS:
            img, img_method = _encode_images(q, bits, self.xyz)
            self.tried["image_bytes"] = len(img)
            if len(img) < len(data):
                return img, img_method
        return data, method


def _encode_images(q: np.ndarray, bits: int, xyz: np.ndarray) -> tuple[bytes, str]:
    """Symbols [N, C] in [0, 2^bits) as uint8 planes of <= 3 channels (ptc's image layout),
    each the smaller of lossless PNG and WebP; method "image-png+webp+..." names each plane's."""
    order, side = morton_grid_order(xyz)
    parts, methods = [], []
    for plane in _to_planes(q, bits):
        img = to_grid(plane, order, side)
        img = img[:, :, 0] if img.shape[2] == 1 else img
        best = min((encode_image(img, m) for m in IMAGE_METHODS), key=lambda r: len(r[0]))
        parts.append(best[0])
        methods.append(best[1])
    return frame(parts), "image-" + "+".join(methods)


# ---- decoder helpers ---------------------------------------------------------------------------
def _image_size(data: bytes, method: str) -> tuple[int, int]:
    """(height, width) an image stream declares, read from its header before decoding it."""
    if method == "png" and len(data) >= 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return h, w
    if method == "webp" and len(data) >= 26 and data[1:5] == b"RIFF" and data[9:13] == b"WEBP":
        if data[13:17] == b"VP8L" and data[21] == 0x2F:
            (v,) = struct.unpack("<I", data[22:26])
            return ((v >> 14) & 0x3FFF) + 1, (v & 0x3FFF) + 1
        if data[13:17] == b"VP8X" and len(data) >= 31:
            return int.from_bytes(data[28:31], "little") + 1, int.from_bytes(data[25:28], "little") + 1
    raise CorruptStreamError(f"{method} image stream has no readable size header")


def _decode_images(sec: Section, n: int, c: int, bits: int, xyz: np.ndarray) -> np.ndarray:
    """Inverse of _encode_images: unsigned symbols [n, C] in decoded (Morton) order."""
    methods = sec.method[len("image-"):].split("+")
    if len(methods) != _n_planes(c, bits) or any(m not in IMAGE_METHODS for m in methods):
        raise CorruptStreamError(f"section {sec.name!r}: image planes {methods} do not fit {c} channels of {bits} bits")
    parts = unframe(sec.data, sec.name)
    if len(parts) != len(methods):
        raise CorruptStreamError(f"section {sec.name!r} holds {len(parts)} images, its method names {len(methods)}")
    order, side = morton_grid_order(xyz)
    rows, _ = grid_shape(n)
    groups, planes = (c + 2) // 3, []
    for i, (data, m) in enumerate(zip(parts, methods)):
        width = min(3, c - 3 * (i % groups))
        if _image_size(data, m) != (rows, side):
            raise CorruptStreamError(f"section {sec.name!r}: image {i} is not the {rows} x {side} grid of {n} splats")
        try:
            img = decode_image(data, m)
        except InputError as e:
            raise CorruptStreamError(f"section {sec.name!r}: {e}") from None
        img = img[:, :, None] if img.ndim == 2 else img
        if img.shape != (rows, side, width) or img.dtype != np.uint8:
            raise CorruptStreamError(f"section {sec.name!r}: image {i} has shape {list(img.shape)}")
        plane = np.empty((n, width), np.uint8)
        plane[order] = from_grid(img, n)
        planes.append(plane)
    q = _from_planes(planes, c, bits)
    if q.size and q.max() >= 1 << bits:
        raise CorruptStreamError(f"section {sec.name!r} holds symbols beyond {bits} bits")
    return q


def _post_decoder(entry: dict, c: int, xyz: np.ndarray):
    """post_decode(section, n) for decode_grid: images or a symbol coder, by the section's method."""

    def decode(sec: Section, n: int) -> np.ndarray:
        if sec.method.startswith("image-"):
            try:
                bits = int(entry["bits"])
            except (KeyError, TypeError, ValueError):
                raise CorruptStreamError(f"section {sec.name!r}: header lacks its bit width") from None
            if not 1 <= bits <= 16:
                raise CorruptStreamError(f"section {sec.name!r}: bit width {bits} is out of range")
            return _decode_images(sec, n, c, bits, xyz)
        if sec.method not in SYMBOL_METHODS:
            raise CorruptStreamError(f"section {sec.name!r}: unknown coding method {sec.method!r}")
        return decode_best(sec.data, sec.method, n, channels=c)

    return decode


def _check_mask_size(data: bytes, p: float, n: int, what: str) -> None:
    """n Bernoulli bits at p cost at least n * -log2(max p) bits: refuse a count the bytes cannot hold."""
    if not (np.isfinite(p) and 0 < p < 1):
        raise CorruptStreamError(f"{what}: bit probability {p} is invalid")
    least = -np.log2(ans.bit_freqs(p).max() / 65536.0)
    if n * least > 8 * len(data) + 64:
        raise CorruptStreamError(f"{what}: {n} bits cannot fit in {len(data)} bytes at p={p}")


def _int_pair(v, what: str) -> tuple[int, int]:
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v)):
        raise CorruptStreamError(f"{what} must be two integers, got {str(v)[:40]}")
    return v[0], v[1]


# ---- the codec ---------------------------------------------------------------------------------
@register_codec
class DynamicGSCodec(StreamCodec):
    name = "dynamic-gscodec"
    header_schema = DynamicHeader
    version = CODEC_VERSION
    representation = "spacetime"
    trains_with_compression = True

    def __init__(self, quality: int = 3, lambda_rate: float | None = None, learned_only: bool = False):
        """quality 1..5: position bits (ptc's ladder) and the bit width of GOFs without a
        simulation; lambda_rate: the training-time rate weight (paper: 0.02 and 0.01), read by
        the trainer via `simulation_config`; learned_only: constrained attributes always take
        the learned model (the paper's rule, for ablations)."""
        self.ptc = make_config("uniform", int(quality))
        self.quality, self.lambda_rate, self.learned_only = int(quality), lambda_rate, bool(learned_only)
        self.last_stats: dict = {}

    @staticmethod
    def simulation_config(codec_config: dict, base: dict | None = None) -> dict:
        """The SpacetimeSimConfig dict this codec wants: λ from the codec config and, unless
        `base` sets them, the bit widths of its quality (ptc's ladder, as Static GSCodec)."""
        sim = dict(base or {})
        if codec_config.get("lambda_rate") is not None:
            sim["lambda_rate"] = float(codec_config["lambda_rate"])
        if "bits" not in sim:
            b = make_config("uniform", int(codec_config.get("quality", 3))).bits["quats"]
            sim["bits"] = {name: b for name in CHANNELS}
        return sim

    # ---- encode ----------------------------------------------------------------------------
    def encode(self, seq: SpacetimeSequence) -> bytes:
        t0 = time.perf_counter()
        if not isinstance(seq, SpacetimeSequence):
            raise InputError("dynamic-gscodec codes a dynamic sequence (`gscodec train DYNAMIC_DATASET --codec "
                             "dynamic-gscodec`); use ptc or static-gscodec for a static scene")
        seq.check()
        if len(seq.gofs) > MAX_GOFS:
            raise InputError(f"{len(seq.gofs)} groups of frames; at most {MAX_GOFS} fit one stream (use a longer --gof)")
        header = {"codec": self.name, "codec_version": CODEC_VERSION, "fps": float(seq.fps), "n_frames": seq.n_frames,
                  "quality": self.quality, "position_bits": self.ptc.position_bits, "gofs": []}
        sections, stats = [], []
        for k, g in enumerate(seq.gofs):
            entry, secs, st = self._encode_gof(g, f"g{k}.")
            header["gofs"].append(entry)
            sections += secs
            stats.append(st)
        header["count"] = sum(e["count"] for e in header["gofs"])
        data = container.pack(header, sections)
        per_attr: dict[str, int] = {}
        for st in stats:
            for name, b in st["sections"].items():
                per_attr[name] = per_attr.get(name, 0) + b
        self.last_stats = {"encode_seconds": time.perf_counter() - t0, "bytes": len(data), "gofs": stats,
                           "section_bytes": per_attr}
        return data

    def _encode_gof(self, g: SpacetimeScene, prefix: str):
        sim = g.entropy_model if _started(g.entropy_model) else None
        g = g.detach().to("cpu")
        keep, prune_stats = _prune(g)
        pbits = self.ptc.position_bits
        qpos, plo, phi = quantize_positions(g.means[keep].numpy(), pbits)
        pos_bytes, order = encode_positions(qpos, pbits)
        n = len(order)
        xyz = dequantize_positions(qpos[order], pbits, plo, phi)  # what the decoder will have
        ch_all = to_channels(g.attributes())
        ch = {k: v[keep][torch.from_numpy(order)] for k, v in ch_all.items()}
        moving = _moving(g, sim, ch_all)[keep.numpy()][order]
        n_moving = int(moving.sum())
        entry = {"frames": list(g.frame_range), "time": [float(t) for t in g.time_range], "count": n,
                 "moving": n_moving, "bounds": [plo.tolist(), phi.tolist()], "prune": prune_stats,
                 "sim": sim.cfg.to_dict() if sim is not None else None, "attributes": {}, "entropy": {}}
        secs = [Section(prefix + "positions", "morton-delta", pos_bytes)]
        if 0 < n_moving < n:
            entry["moving_p"] = float(np.float32(moving.mean()))
            secs.append(Section(prefix + "moving", "ans-bits", ans.encode_bits(moving.astype(np.uint8),
                                                                                entry["moving_p"])))
        dec_bytes, entry["decoder"] = pack_tensors({k: v.float() for k, v in g.decoder.items()}, "float32")
        stored, model_secs, meta = None, [], {}
        if sim is not None:
            model_secs, meta = la.store_entropy(sim.entropy, prefix)
            stored = self._rebuild(entry["sim"], meta, {s.name: s for s in model_secs}, prefix, None)
        attr_stats = {}
        for name in CHANNELS:
            rows = moving if name in MOVING else np.ones(n, bool)
            sec, entry["attributes"][name], attr_stats[name] = self._encode_attribute(
                name, ch[name][torch.from_numpy(rows)], xyz[rows], sim, stored, prefix + name)
            secs.append(sec)
        per_splat = sum(len(s.data) for s in secs)
        if per_splat < n:  # degenerate GOF (splats all alike): features raw keep the one-byte-per-splat floor
            i = [s.name for s in secs].index(prefix + "features")
            secs[i], entry["attributes"]["features"], attr_stats["features"] = self._encode_attribute(
                "features", ch["features"], xyz, sim, stored, prefix + "features", raw=True)
            attr_stats["features"]["floor"] = True
        learned = {a for a, st in attr_stats.items() if st["method"].startswith("learned-")}
        entry["entropy"] = {a: m for a, m in meta.items() if a in learned}  # only the models a section uses travel
        model_secs = [s for s in model_secs if s.name[len(prefix):].split(".")[0] in learned]
        secs += [Section(prefix + "decoder", "float32", dec_bytes), *model_secs]
        entry["sections"] = [s.name for s in secs]
        st = {"frames": list(g.frame_range), "count": n, "moving": n_moving, "prune": prune_stats,
              "bytes": sum(len(s.data) for s in secs), "attributes": attr_stats,
              "sections": {s.name[len(prefix):]: len(s.data) for s in secs}}
        return entry, secs, st

    @staticmethod
    def _rebuild(sim_cfg, meta, sections, prefix, only):
        from gscodec.simulate.spacetime_sim import SpacetimeSim, SpacetimeSimConfig

        if not isinstance(sim_cfg, dict):
            raise CorruptStreamError("GOF's simulation config is malformed")
        return la.load_entropy(la.build_sim(SpacetimeSim, SpacetimeSimConfig, sim_cfg), meta, sections, prefix, only)

    def _encode_attribute(self, name: str, x: torch.Tensor, xyz: np.ndarray, sim, stored, section: str,
                          raw: bool = False):
        post = _ImageOrSymbols(xyz, raw)
        if sim is None:  # no training-time grid: uniform post-training quantization
            bits = self.ptc.bits["quats"]
            q, lo, hi = quantize_uniform(x.numpy(), bits)
            data, method = post(q, bits) if len(x) else (b"", "raw")
            entry = {"mode": "uniform", "bits": bits, "lo": lo.tolist(), "hi": hi.tolist()}
            return Section(section, method, data), entry, {"method": method, "bytes": len(data), **post.tried}
        model = None if raw else la.model_of(stored, name)
        sec, entry, st = la.encode_grid(sim, name, x, model, xyz, section, learned_only=self.learned_only,
                                        post=la.post_training if model is not None else post)
        return sec, entry, {**st, **post.tried}

    # ---- the index -------------------------------------------------------------------------
    @classmethod
    def _index(cls, header: dict) -> list[dict]:
        """The GOF index, checked: counts, frames, times and section names of every GOF."""
        gofs = header.get("gofs")
        if not isinstance(gofs, list) or not 1 <= len(gofs) <= MAX_GOFS or not all(isinstance(e, dict) for e in gofs):
            raise CorruptStreamError("dynamic-gscodec header has no valid GOF index")
        with header_fields(cls.name):
            fps, n_frames, total = float(header["fps"]), header["n_frames"], header["count"]
        if not (np.isfinite(fps) and fps > 0) or not isinstance(n_frames, int) or not 1 <= n_frames <= 1 << 24:
            raise CorruptStreamError(f"dynamic-gscodec header has an impossible fps {fps} or frame count")
        out, frame_at = [], 0
        for k, e in enumerate(gofs):
            f0, f1 = _int_pair(e.get("frames"), f"GOF {k} frames")
            n, m = e.get("count"), e.get("moving")
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (n, m))
            if not ok or not 0 <= m <= n <= MAX_GOF_SPLATS or f0 != frame_at or not f0 < f1 <= n_frames:
                raise CorruptStreamError(f"GOF {k}: impossible count, moving count or frames")
            try:
                t0, t1 = (float(t) for t in e["time"])
                names = [str(s) for s in e["sections"]] if isinstance(e["sections"], list) else None
            except (KeyError, TypeError, ValueError):
                raise CorruptStreamError(f"GOF {k}: time range or section list is malformed") from None
            if not (np.isfinite(t0) and np.isfinite(t1) and t0 <= t1) or names is None \
                    or not all(s.startswith(f"g{k}.") for s in names):
                raise CorruptStreamError(f"GOF {k}: time range or section list is invalid")
            out.append({"gof": k, "frames": [f0, f1], "time": [t0, t1], "count": n, "moving": m, "sections": names})
            frame_at = f1
        if frame_at != n_frames or total != sum(e["count"] for e in out):
            raise CorruptStreamError("the GOF index does not cover the sequence or add up to its count")
        return out

    @classmethod
    def gof_index(cls, data: bytes) -> list[dict]:
        """Frames, times, counts, sections and bytes of every GOF, without decoding any."""
        header, sections = cls.unpack(data)
        index = cls._index(header)
        for e in index:
            e["bytes"] = sum(len(sections[s].data) for s in e["sections"] if s in sections)
        return index

    # ---- decode ----------------------------------------------------------------------------
    @classmethod
    def decode_stream(cls, data: bytes) -> SpacetimeSequence:
        header, sections = cls.unpack(data)
        index = cls._index(header)
        gofs = [cls._decode_gof(header, index[k], sections) for k in range(len(index))]
        try:
            return SpacetimeSequence(gofs, float(header["fps"]), int(header["n_frames"])).check()
        except InputError as e:
            raise CorruptStreamError(f"decoded sequence is inconsistent ({e})") from None

    @classmethod
    def decode_gof(cls, data: bytes, k: int) -> SpacetimeScene:
        """Only GOF k (a player seeking to a time decodes the GOF that holds it); the others'
        sections are CRC-checked by the container but not decoded."""
        header, sections = cls.unpack(data)
        index = cls._index(header)
        if not isinstance(k, int) or not 0 <= k < len(index):
            raise InputError(f"GOF {k} does not exist; the stream holds {len(index)}")
        return cls._decode_gof(header, index[k], sections)

    @classmethod
    def _decode_gof(cls, header: dict, ix: dict, sections: dict) -> SpacetimeScene:
        k, n, n_moving = ix["gof"], ix["count"], ix["moving"]
        e, prefix = header["gofs"][k], f"g{k}."
        with header_fields(cls.name):
            pbits = int(header["position_bits"])
            plo, phi = (np.asarray(b, np.float32) for b in e["bounds"])
            attrs, sim_cfg, ent_meta, dec_layout = e["attributes"], e["sim"], e["entropy"], e["decoder"]
            p = float(e["moving_p"]) if 0 < n_moving < n else 0.5
        if not 4 <= pbits <= 21 or plo.shape != (3,) or phi.shape != (3,) or not isinstance(attrs, dict) \
                or not (np.isfinite(plo).all() and np.isfinite(phi).all()):
            raise CorruptStreamError(f"GOF {k}: impossible position bits, bounds or attribute index")
        sec = {name: need_section(sections, prefix + name)
               for name in ("positions", *CHANNELS, *(["moving"] if 0 < n_moving < n else []))}
        if sum(len(s.data) for s in sec.values()) < n:
            raise CorruptStreamError(f"GOF {k}: {n} splats cannot fit in its "
                                     f"{sum(len(s.data) for s in sec.values())} bytes of per-splat sections")
        pos = sec["positions"].data
        if len(pos) < 6 or struct.unpack_from("<BBI", pos, 0)[1:] != (pbits, n):
            raise CorruptStreamError(f"GOF {k}: positions section does not hold {n} points of {pbits} bits")
        qpos = decode_positions(pos, max_points=n)
        xyz = dequantize_positions(qpos, pbits, plo, phi)
        moving = np.full(n, n_moving == n)
        if 0 < n_moving < n:
            _check_mask_size(sec["moving"].data, p, n, f"GOF {k} moving mask")
            moving = ans.decode_bits(sec["moving"].data, p, n).astype(bool)
            if int(moving.sum()) != n_moving:
                raise CorruptStreamError(f"GOF {k}: moving mask does not match the header's count")
        learned = sorted(ent_meta) if isinstance(ent_meta, dict) else None
        if sim_cfg is not None and learned is None:
            raise CorruptStreamError(f"GOF {k}: entropy model index is malformed")
        stored = cls._rebuild(sim_cfg, ent_meta, sections, prefix, learned) if sim_cfg is not None else None
        vals = {}
        for name, c in CHANNELS.items():
            rows = moving if name in MOVING else np.ones(n, bool)
            v = cls._decode_attribute(name, attrs.get(name), sec[name], stored, xyz[rows], int(rows.sum()), c)
            full = np.zeros((n, c), np.float32)
            full[rows] = v
            vals[name] = full
        try:
            dec = unpack_tensors(need_section(sections, prefix + "decoder").data, dec_layout)
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise CorruptStreamError(f"GOF {k}: decoder weights are malformed ({err})") from None
        if set(dec) != set(DECODER_SHAPES):
            raise CorruptStreamError(f"GOF {k}: decoder weights {sorted(dec)} are not the MLP's")
        def t(a):
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        kw = {name: t(vals[name]).reshape(n, *ATTRIBUTES[name]) for name in CHANNELS}
        try:
            return SpacetimeScene(means=t(xyz), **kw, decoder=dec, time_range=tuple(ix["time"]),
                                  frame_range=tuple(ix["frames"]), static=torch.from_numpy(~moving)).check()
        except InputError as err:
            raise CorruptStreamError(f"GOF {k} decodes to an invalid scene ({err})") from None

    @staticmethod
    def _decode_attribute(name, entry, sec: Section, stored, xyz: np.ndarray, n: int, c: int) -> np.ndarray:
        if not isinstance(entry, dict):
            raise CorruptStreamError(f"header lacks the description of {name!r}")
        if entry.get("mode") == "uniform":
            try:
                bits = int(entry["bits"])
                lo, hi = np.asarray(entry["lo"], np.float64), np.asarray(entry["hi"], np.float64)
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                raise CorruptStreamError(f"header entry of {name!r} is malformed ({e})") from None
            if not 1 <= bits <= 16 or lo.shape != (c,) or hi.shape != (c,) \
                    or not (np.abs(lo) < 1e30).all() or not (np.abs(hi) < 1e30).all():
                raise CorruptStreamError(f"uniform grid of {name!r} is invalid")
            lo, hi = lo.astype(np.float32), hi.astype(np.float32)
            q = _post_decoder(entry, c, xyz)(sec, n) if n else np.zeros((0, c), np.int64)
            if q.shape != (n, c):
                raise CorruptStreamError(f"{name!r} decoded to shape {list(q.shape)}, expected {[n, c]}")
            return dequantize_uniform(q, bits, lo, hi)
        return la.decode_grid(name, entry, sec, la.model_of(stored, name), xyz, n, c, _post_decoder(entry, c, xyz))


__all__ = ["MAX_GOFS", "DynamicGSCodec"]
