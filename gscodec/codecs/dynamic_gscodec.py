"""Dynamic GSCodec (GSCodec Studio V-B / VI-B): Spacetime Gaussians, one section group per
group of frames (GOF), and an index in the header so a player decodes one GOF alone.

Per GOF (sections `g{k}.*`): prune (splats never reaching 1/255 opacity inside the GOF) ->
positions (grid + Morton, lossless on the grid, as Static GSCodec) -> the moving/static
mask as bits -> every other attribute as integer symbols on the training grid (motion and
angular velocity only for moving splats), each coded with its learned factorized
distribution (weights in the stream) or the best post-training symbol coder, whichever is
smaller (recorded per section) -> the decoder MLP as float32. A GOF trained without
simulation is quantized uniformly at the quality's bit width and coded post-training.
As in Static GSCodec the encoder rebuilds the learned models from the bytes it stores, so
both sides compute the coder's tables from identical weights (float64, CPU).

Where we differ from the paper: the attributes not entropy-constrained in training are coded
by the post-training symbol coders (raw / categorical / context ANS), not by 3D-to-2D sorting
and image coding; by default every attribute is entropy-constrained, so the paper's rule
would not use the image path here either.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from gscodec.codecs.base import StreamCodec
from gscodec.codecs.ptc.config import make_config
from gscodec.codecs.registry import register_codec
from gscodec.codecs.static_gscodec import _bits_needed, _learned_decode, _learned_encode
from gscodec.coding import ans, container
from gscodec.coding.container import Section
from gscodec.coding.positions import decode_positions, dequantize_positions, encode_positions, quantize_positions
from gscodec.coding.stream import header_fields, need, need_section, pack_tensors, unpack_tensors
from gscodec.coding.symbols import decode_best, dequantize_uniform, encode_best, quantize_uniform
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene.spacetime import ATTRIBUTES, DECODER_SHAPES, SpacetimeScene, SpacetimeSequence
from gscodec.simulate.spacetime_sim import CHANNELS, MOVING

CODEC_VERSION = 1
MAX_GOFS = 80  # section names stay unique and the container's 1024 sections suffice


def _visible(g: SpacetimeScene) -> torch.Tensor:
    """Splats whose opacity reaches 1/255 somewhere in the GOF (the temporal peak, clamped to [0, 1])."""
    p = g.attributes()
    tc = p["t_center"].clamp(0, 1)
    peak = torch.sigmoid(p["opacity_logits"]) * torch.exp(-((tc - p["t_center"]) / p["t_log_scale"].exp()) ** 2)
    return peak >= 1.0 / 255


def _channels(g: SpacetimeScene, keep: torch.Tensor, order: np.ndarray) -> dict[str, torch.Tensor]:
    idx = torch.from_numpy(order)
    return {name: getattr(g, name).detach().cpu()[keep][idx].reshape(len(order), c) for name, c in CHANNELS.items()}


def _rebuild_models(sim_cfg: dict, meta: dict, sections: dict, prefix: str):
    """The GOF's simulation with the entropy weights read from the stream."""
    from gscodec.simulate.spacetime_sim import SpacetimeSim, SpacetimeSimConfig

    try:
        sim = SpacetimeSim(SpacetimeSimConfig.from_dict(sim_cfg))
    except (InputError, TypeError, ValueError) as e:
        raise CorruptStreamError(f"stream's spacetime simulation config is invalid ({e})") from None
    for name, m in sim.entropy.items():
        if name not in meta:
            raise CorruptStreamError(f"stream lacks the entropy model of {name!r}")
        try:
            m.load_state_dict(unpack_tensors(need(sections, f"{prefix}{name}.model"), meta[name]))
        except (RuntimeError, KeyError, TypeError, ValueError) as e:
            raise CorruptStreamError(f"entropy model {name!r} weights do not fit its config ({e})") from None
    return sim.eval()


@register_codec
class DynamicGSCodec(StreamCodec):
    name = "dynamic-gscodec"
    version = CODEC_VERSION
    representation = "spacetime"
    trains_with_compression = True

    def __init__(self, quality: int = 3, lambda_rate: float | None = None, learned_only: bool = False):
        """quality 1..5: position bits (ptc's ladder) and the bit width of untrained GOFs;
        lambda_rate: the training-time rate weight (paper: 0.02 and 0.01)."""
        self.ptc = make_config("default", int(quality))
        self.quality, self.lambda_rate, self.learned_only = int(quality), lambda_rate, bool(learned_only)
        self.last_stats: dict = {}

    @staticmethod
    def simulation_config(codec_config: dict, base: dict | None = None) -> dict:
        sim = dict(base or {})
        if codec_config.get("lambda_rate") is not None:
            sim["lambda_rate"] = float(codec_config["lambda_rate"])
        return sim

    # ---- encode ----------------------------------------------------------------------
    def encode(self, seq: SpacetimeSequence) -> bytes:
        t0 = time.perf_counter()
        if not isinstance(seq, SpacetimeSequence):
            raise InputError("dynamic-gscodec codes a dynamic sequence (`gscodec train DYNAMIC_DATASET --codec "
                             "dynamic-gscodec`); use ptc or static-gscodec for a static scene")
        seq.check()
        if len(seq.gofs) > MAX_GOFS:
            raise InputError(f"{len(seq.gofs)} groups of frames; at most {MAX_GOFS} fit one stream (use a longer --gof)")
        header = {"codec": self.name, "codec_version": CODEC_VERSION, "fps": float(seq.fps), "n_frames": seq.n_frames,
                  "position_bits": self.ptc.position_bits, "gofs": []}
        sections, stats = [], []
        for k, g in enumerate(seq.gofs):
            entry, secs, st = self._encode_gof(g, f"g{k}.")
            header["gofs"].append(entry)
            sections += secs
            stats.append(st)
        header["count"] = sum(e["count"] for e in header["gofs"])
        data = container.pack(header, sections)
        self.last_stats = {"encode_seconds": time.perf_counter() - t0, "bytes": len(data), "gofs": stats}
        return data

    def _encode_gof(self, g: SpacetimeScene, prefix: str):
        g = g.detach().to("cpu")
        sim = g.entropy_model if g.entropy_model is not None and bool(getattr(g.entropy_model, "started", False)) else None
        keep = _visible(g)
        pbits = self.ptc.position_bits
        qpos, plo, phi = quantize_positions(g.means[keep].numpy(), pbits)
        pos_bytes, order = encode_positions(qpos, pbits)
        n = len(order)
        ch = _channels(g, keep, order)
        if sim is not None and sim.moving() is not None:
            moving = sim.moving().cpu()[keep][torch.from_numpy(order)].numpy()
        else:
            moving = (ch["motion"].abs().amax(1) > 0).numpy() | (ch["omega"].abs().amax(1) > 0).numpy()
        p = float(np.float32(moving.mean())) if n else 0.5
        entry = {"frames": list(g.frame_range), "time": list(g.time_range), "count": n, "moving": int(moving.sum()),
                 "moving_p": p, "bounds": [plo.tolist(), phi.tolist()], "attributes": {}, "entropy": {},
                 "sim": sim.cfg.to_dict() if sim is not None else None}
        dec_bytes, entry["decoder"] = pack_tensors({k: v.float() for k, v in g.decoder.items()}, "float32")
        secs = [Section(prefix + "positions", "morton-delta", pos_bytes),
                Section(prefix + "moving", "ans-bits", ans.encode_bits(moving.astype(np.uint8), p)),
                Section(prefix + "decoder", "float32", dec_bytes)]
        stored = None
        if sim is not None:
            for name, m in sim.entropy.items():
                data, entry["entropy"][name] = pack_tensors(m.state_dict(), "float32")
                secs.append(Section(f"{prefix}{name}.model", "float32", data))
            stored = _rebuild_models(entry["sim"], entry["entropy"], {s.name: s for s in secs}, prefix)
        st = {"count": n, "moving": int(moving.sum()), "attributes": {}}
        for name in CHANNELS:
            x = ch[name][torch.from_numpy(moving)] if name in MOVING else ch[name]
            sec, entry["attributes"][name], st["attributes"][name] = self._encode_attribute(name, x, sim, stored, prefix)
            secs.append(sec)
        st["bytes"] = sum(len(s.data) for s in secs)
        return entry, secs, st

    def _encode_attribute(self, name: str, x: torch.Tensor, sim, stored, prefix: str):
        c, m = CHANNELS[name], len(x)
        if sim is None:  # no training-time grid: uniform post-training quantization
            bits = self.ptc.bits.get("scales", 8)
            q, lo, hi = quantize_uniform(x.numpy(), bits)
            data, method = encode_best(q, bits)[:2] if m else (b"", "raw")
            return (Section(prefix + name, method, data), {"mode": "uniform", "bits": bits, "lo": lo.tolist(),
                                                            "hi": hi.tolist()}, {"method": method, "bytes": len(data)})
        qz = sim.quantizers[name]
        y = sim.symbols(name, x).numpy().astype(np.int64)
        lo = y.min(0) if m else np.zeros(c, np.int64)
        hi = y.max(0) if m else np.zeros(c, np.int64)
        entry = {"mode": "grid", "origin": qz.origin().numpy().astype(np.float32).tolist(),
                 "step": qz.step().numpy().astype(np.float32).tolist(), "center": sim.center(name),
                 "lo": lo.tolist(), "hi": hi.tolist()}
        bits = _bits_needed(int((hi - lo).max()) if m else 0)
        post, method = encode_best(y - lo, bits)[:2] if m else (b"", "raw")
        st = {"post_training_bytes": len(post), "post_training_method": method}
        if name in stored.entropy and m:
            learned = _learned_encode(stored.entropy[name], y, None, lo, hi)
            st["learned_bytes"] = len(learned)
            if self.learned_only or len(learned) <= len(post):
                st.update(method="learned-factorized", bytes=len(learned))
                return Section(prefix + name, "learned-factorized", learned), entry, st
        entry["bits"] = bits
        st.update(method=method, bytes=len(post))
        return Section(prefix + name, method, post), entry, st

    # ---- decode ----------------------------------------------------------------------
    @classmethod
    def gof_index(cls, data: bytes) -> list[dict]:
        """Frames, times and counts of every GOF, without decoding any."""
        header, _ = cls.unpack(data)
        return [{k: e.get(k) for k in ("frames", "time", "count", "moving")} for e in cls._gofs(header)]

    @classmethod
    def _gofs(cls, header: dict) -> list[dict]:
        gofs = header.get("gofs")
        if not isinstance(gofs, list) or not 1 <= len(gofs) <= MAX_GOFS or not all(isinstance(e, dict) for e in gofs):
            raise CorruptStreamError("dynamic-gscodec header has no valid GOF index")
        return gofs

    @classmethod
    def decode_stream(cls, data: bytes) -> SpacetimeSequence:
        header, sections = cls.unpack(data)
        gofs = [cls._decode_gof(header, sections, k) for k in range(len(cls._gofs(header)))]
        with header_fields(cls.name):
            fps, n_frames = float(header["fps"]), int(header["n_frames"])
        try:
            return SpacetimeSequence(gofs, fps, n_frames).check()
        except InputError as e:
            raise CorruptStreamError(f"decoded sequence is inconsistent ({e})") from None

    @classmethod
    def decode_gof(cls, data: bytes, k: int) -> SpacetimeScene:
        """Only GOF k (a player seeking to a time decodes the GOF that holds it)."""
        header, sections = cls.unpack(data)
        n = len(cls._gofs(header))
        if not 0 <= k < n:
            raise InputError(f"GOF {k} does not exist; the stream holds {n}")
        return cls._decode_gof(header, sections, k)

    @classmethod
    def _decode_gof(cls, header: dict, sections: dict, k: int) -> SpacetimeScene:
        e, prefix = cls._gofs(header)[k], f"g{k}."
        with header_fields(cls.name):
            n, n_moving, pbits = int(e["count"]), int(e["moving"]), int(header["position_bits"])
            plo, phi = (np.asarray(b, np.float32) for b in e["bounds"])
            frames, times = tuple(int(v) for v in e["frames"]), tuple(float(v) for v in e["time"])
            attrs, sim_cfg, p = e["attributes"], e["sim"], float(e["moving_p"])
        if not 4 <= pbits <= 21 or not 0 <= n_moving <= n or plo.shape != (3,) or phi.shape != (3,):
            raise CorruptStreamError(f"GOF {k}: impossible counts, position bits or bounds")
        qpos = decode_positions(need(sections, prefix + "positions"))
        if qpos.shape != (n, 3):
            raise CorruptStreamError(f"GOF {k}: positions decoded to {len(qpos)} points, header says {n}")
        moving = ans.decode_bits(need(sections, prefix + "moving"), p, n).astype(bool)
        if int(moving.sum()) != n_moving:
            raise CorruptStreamError(f"GOF {k}: moving mask does not match the header's count")
        stored = _rebuild_models(sim_cfg, e["entropy"], sections, prefix) if sim_cfg is not None else None
        vals = {}
        for name, c in CHANNELS.items():
            m = n_moving if name in MOVING else n
            v = cls._decode_attribute(name, attrs.get(name), need_section(sections, prefix + name), stored, m, c)
            if name in MOVING:
                full = np.zeros((n, c), np.float32)
                full[moving] = v
                v = full
            vals[name] = v
        try:
            dec = unpack_tensors(need(sections, prefix + "decoder"), e["decoder"])
        except (KeyError, TypeError, ValueError) as err:
            raise CorruptStreamError(f"GOF {k}: decoder weights are malformed ({err})") from None
        if set(dec) != set(DECODER_SHAPES):
            raise CorruptStreamError(f"GOF {k}: decoder weights {sorted(dec)} are not the MLP's")
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        kw = {name: t(vals[name]).reshape(n, *ATTRIBUTES[name]) for name in CHANNELS}
        try:
            return SpacetimeScene(means=t(dequantize_positions(qpos, pbits, plo, phi)), **kw, decoder=dec,
                                  time_range=times, frame_range=frames, static=torch.from_numpy(~moving)).check()
        except InputError as err:
            raise CorruptStreamError(f"GOF {k} decodes to an invalid scene ({err})") from None

    @staticmethod
    def _decode_attribute(name, entry, sec, stored, n: int, c: int) -> np.ndarray:
        if not isinstance(entry, dict):
            raise CorruptStreamError(f"header lacks the description of {name!r}")
        try:
            lo, hi = np.asarray(entry["lo"], np.float64), np.asarray(entry["hi"], np.float64)
            if entry["mode"] == "uniform":
                q = decode_best(sec.data, sec.method, n)
                if q.shape != (n, c):
                    raise CorruptStreamError(f"{name!r} decoded to shape {list(q.shape)}, expected {[n, c]}")
                return dequantize_uniform(q, int(entry["bits"]), lo.astype(np.float32), hi.astype(np.float32))
            lo_i, hi_i = lo.astype(np.int64), hi.astype(np.int64)
            origin, step = np.asarray(entry["origin"], np.float32), np.asarray(entry["step"], np.float32)
            center = int(entry["center"])
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise CorruptStreamError(f"header entry of {name!r} is malformed ({e})") from None
        if (lo_i.shape != (c,) or hi_i.shape != (c,) or origin.shape != (c,) or step.shape != (c,)
                or np.any(hi_i < lo_i) or np.any(hi_i - lo_i > ans.MAX_ALPHABET) or not np.isfinite(step).all()):
            raise CorruptStreamError(f"symbol range or grid of {name!r} is invalid")
        if n == 0:
            y = np.zeros((0, c), np.int64)
        elif sec.method == "learned-factorized":
            if stored is None or name not in stored.entropy:
                raise CorruptStreamError(f"{name!r} is coded with a learned model the stream does not hold")
            y = _learned_decode(stored.entropy[name], sec.data, n, c, None, lo_i, hi_i, name)
        else:
            y = decode_best(sec.data, sec.method, n).astype(np.int64) + lo_i
        if y.shape != (n, c):
            raise CorruptStreamError(f"{name!r} decoded to shape {list(y.shape)}, expected {[n, c]}")
        return ((y + center).astype(np.float32) * step + origin).astype(np.float32)


__all__ = ["DynamicGSCodec", "MAX_GOFS"]
