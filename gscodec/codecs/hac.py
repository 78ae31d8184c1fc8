"""The "hac" codec: Scaffold-GS anchors entropy coded with HAC's hash-grid context.

Stream (sections in order; `gscodec info` groups them like the papers' storage table):
  location     anchors on a 16-bit grid over their bounding box, Morton order + delta
               (coding/positions, lossless); every other array is stored in that order
  hash         the binarized hash-grid tables, one Bernoulli probability (in the header)
  masks        offset masks: per slot two Bernoulli probabilities (header), chosen by the
               previous slot's bit of the same anchor; one ANS stream
  mlp_context  context MLP + channel-context MLPs, float16 by default (`context_dtype`; float32
               when a weight does not fit): exactly the weights the coder parameters are
               computed from (the encoder rebuilds its model from these bytes)
  mlp_decoder  scene.decoder_state (Scaffold's MLPs), float16 by default (`mlp_dtype`)
  feature      one ANS payload per feature chunk (u32 length + payload each), decoded in
               order: chunk i's Gaussians depend on the decoded chunks before it
  scaling, offsets
               one ANS payload each (same framing); offsets only where the mask is on.
Every Gaussian comes from a model rebuilt from the stream (hash bits, MLP bytes, context
bounds) and the DECODED anchor positions, computed in float64 on the CPU; each value is
coded as r = round(y/Q) - round(mean/Q) under N(mean/Q - round(mean/Q), scale/Q): the same
distribution shifted by an integer, so the symbol range stays small whatever Q is.
Header: counts, position bits and bounds, context bounds, the HAC config, hash and mask
probabilities, each coding unit's residual range, decoder config and tensor table.
Anchors whose offsets are all masked spawn nothing and are dropped before coding.
"""
from __future__ import annotations

import struct
import time
from typing import ClassVar

import numpy as np
import torch

from gscodec.codecs.anchor_raw import (
    MAX_ANCHORS,
    check_scene,
    need,
    pack_decoder_state,
    read_count,
    unpack_decoder_state,
)
from gscodec.codecs.registry import register_codec
from gscodec.coding import ans, container
from gscodec.coding.container import Section
from gscodec.coding.positions import (
    decode_positions,
    dequantize_positions,
    encode_positions,
    quantize_positions,
)
from gscodec.entropy.gaussian import SCALE_MIN
from gscodec.entropy.hac import GROUPS, HacConfig, HacEntropyModel, _softplus64
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene.anchors import AnchorScene

CODEC_VERSION = 1
MAX_HASH_BITS = 1 << 25
MAX_RESIDUAL_RANGE = 1 << 24


def _coding_model(cfg: HacConfig, hash_bits: np.ndarray, ctx_bounds, mlp_bytes: bytes) -> HacEntropyModel:
    """The model exactly as the decoder rebuilds it (both sides compute params from this)."""
    with torch.random.fork_rng(devices=[]):
        m = HacEntropyModel(cfg)
    m.context.load_bits(hash_bits)
    m.set_bounds(np.asarray(ctx_bounds[0], np.float32), np.asarray(ctx_bounds[1], np.float32))
    m.load_mlp_bytes(mlp_bytes)
    return m.eval()


def _context_to_stream(f32: bytes, dtype: str) -> tuple[bytes, str]:
    """The context MLP's weights at the stream's precision; float16 halves the MLP share of a
    small scene's file. Weights that float16 cannot hold keep float32 (the header says which)."""
    if dtype == "float16":
        a = np.frombuffer(f32, "<f4")
        h = a.astype("<f2")
        if np.all(np.isfinite(h)):
            return h.tobytes(), "float16"
    return f32, "float32"


def _context_from_stream(data: bytes, dtype: str) -> bytes:
    """float32 bytes of the stored weights: exactly what both coder sides compute with."""
    return np.frombuffer(data, "<f2").astype("<f4").tobytes() if dtype == "float16" else data


def _slot_freqs(p: float) -> np.ndarray:
    return ans._bit_freqs(p)


def _group_coder_params(prm, sel=None):
    """(center, mean', std') for one group: center = round(mean/Q) (int64), mean' = mean/Q
    - center, std' = scale/Q; flat, restricted to `sel` (flat bool) when given."""
    mean, scale, q = prm
    mq, sq = mean / q, scale / q
    center = np.round(mq)
    mq, sq, center = mq.reshape(-1), sq.reshape(-1), center.reshape(-1)
    if sel is not None:
        mq, sq, center = mq[sel], sq[sel], center[sel]
    return center.astype(np.int64), mq - center, sq


def _units(cfg: HacConfig):
    """Coding order: (group, chunk index, (start, end) columns): feature chunks, scaling, offsets."""
    for i, b in enumerate(cfg.chunk_bounds):
        yield "feature", i, b
    yield "scaling", 0, (0, 6)
    yield "offsets", 0, (0, 3 * cfg.n_offsets)


def _unit_params(cm: HacEntropyModel, heads, g: str, i: int, prefix):
    """(mean, scale, Q) float64 of one coding unit; the same call on both sides."""
    if g == "feature":
        mean, scale = cm.coder_feature_chunk(heads, prefix, i)
        return mean, scale, heads[g][2]
    mean, raw, q = heads[g]
    return mean, np.maximum(_softplus64(raw), SCALE_MIN), q


def _split_chunks(data: bytes, count: int, what: str) -> list[bytes]:
    """Payload = count x (u32 length, ANS payload); every length checked, nothing left over."""
    out, off = [], 0
    for _ in range(count):
        if off + 4 > len(data):
            raise CorruptStreamError(f"{what}: chunk table truncated")
        (ln,) = struct.unpack_from("<I", data, off)
        if ln > len(data) - off - 4:
            raise CorruptStreamError(f"{what}: chunk of {ln} bytes exceeds the {len(data) - off - 4} left")
        out.append(data[off + 4 : off + 4 + ln])
        off += 4 + ln
    if off != len(data):
        raise CorruptStreamError(f"{what}: {len(data) - off} stray bytes after the chunks")
    return out


def _mask_prev(mask: np.ndarray):
    """Context of slot j's bits: slot j-1's bit in the same anchor (slot 0: constant 1).
    Masks of one anchor are correlated (pruning hits whole regions), so two Bernoulli
    probabilities per slot, P(on | previous off) and P(on | previous on), beat one."""
    for j in range(mask.shape[1]):
        yield mask[:, j - 1] if j else np.ones(mask.shape[0], bool)


def _offset_sel(mask: np.ndarray) -> np.ndarray:
    return np.repeat(mask, 3, axis=1).reshape(-1)


@register_codec
class HacCodec:
    name = "hac"
    version = CODEC_VERSION
    trains_with_compression = True
    representation = "anchors"  # trained by gscodec.train.run.train_and_compress_anchors
    SECTION_GROUPS: ClassVar[dict[str, str]] = {"location": "location", "hash": "hash", "masks": "masks", "mlp_context": "MLPs",
                      "mlp_decoder": "MLPs", "feature": "feature", "scaling": "scaling", "offsets": "offsets"}

    def __init__(self, position_bits: int = 16, mlp_dtype: str = "float16", context_dtype: str = "float16",
                 **training_keys):
        """training_keys (lambda_rate, quality, hac) belong to the training run; ignored here."""
        unknown = set(training_keys) - {"lambda_rate", "quality", "hac"}
        if unknown:
            raise InputError(f"unknown hac codec options: {', '.join(sorted(unknown))}")
        if not isinstance(position_bits, int) or not 1 <= position_bits <= 21:
            raise InputError(f"position_bits must be an integer in 1..21, got {position_bits!r}")
        if mlp_dtype not in ("float16", "float32"):
            raise InputError(f"mlp_dtype must be float16 or float32, got {mlp_dtype!r}")
        if context_dtype not in ("float16", "float32"):
            raise InputError(f"context_dtype must be float16 or float32, got {context_dtype!r}")
        self.position_bits, self.mlp_dtype, self.context_dtype = position_bits, mlp_dtype, context_dtype
        self.last_stats: dict = {}
        self.last_symbols: dict = {}

    # ---- encode ----------------------------------------------------------------------------
    def encode(self, scene: AnchorScene) -> bytes:
        t0 = time.perf_counter()
        model = scene.entropy_model if isinstance(scene, AnchorScene) else None
        scene = check_scene(scene)
        if model is None:
            raise InputError("the hac codec needs scene.entropy_model (the trained HacEntropyModel); it is None")
        if not isinstance(model, HacEntropyModel):
            raise InputError(f"scene.entropy_model is a {type(model).__name__}, not a HacEntropyModel")
        cfg = model.cfg
        if cfg.feat_dim != scene.feat_dim or cfg.n_offsets != scene.n_offsets:
            raise InputError(f"entropy model is for feat_dim={cfg.feat_dim}, k={cfg.n_offsets}; the scene has "
                             f"{scene.feat_dim}, {scene.n_offsets}")
        n_in = len(scene)
        scene = scene.subset(scene.offset_mask.any(1))
        n, k = len(scene), scene.n_offsets

        # location: 16-bit grid, lossless; everything else follows its order
        bits = self.position_bits
        q, plo, phi = quantize_positions(scene.anchors.numpy(), bits)
        loc, order = encode_positions(q, bits)
        scene = scene.subset(torch.from_numpy(order.astype(np.int64)))
        anchors_dec = dequantize_positions(q[order], bits, plo, phi)

        hb = model.context.bits_payload()
        ctx_bounds = [model.context.lo.detach().cpu().float().tolist(), model.context.hi.detach().cpu().float().tolist()]
        mlp_ctx, ctx_dtype = _context_to_stream(model.mlp_bytes(), self.context_dtype)
        mlp_dec, dec_table = pack_decoder_state(scene.decoder_state, self.mlp_dtype)

        mask = scene.offset_mask.numpy().astype(bool)
        slot_p, groups = [], []
        for j, prev in enumerate(_mask_prev(mask)):
            ps = []
            for c in (0, 1):
                col = mask[prev == c, j]
                ps.append(float(np.float32(col.mean())) if col.size else 0.5)
                groups.append((col.astype(np.int32), _slot_freqs(ps[-1])))
            slot_p.append(ps)
        coder = ans._stack.AnsCoder()
        ans.encode_groups(coder, groups)
        masks = ans.words_to_bytes(coder.get_compressed())

        # attributes under the parameters the decoder will recompute (feature chunk by chunk)
        cm = _coding_model(cfg, hb.bits, ctx_bounds, _context_from_stream(mlp_ctx, ctx_dtype))
        heads = cm.coder_heads(anchors_dec)
        stored = {g: np.asarray(t.numpy(), np.float64).reshape(n, cfg.dims[g])
                  for g, t in (("feature", scene.features), ("scaling", scene.scaling), ("offsets", scene.offsets))}
        ys = {**stored, "scaling": cm.coded_scaling(stored["scaling"])}
        qf = heads["feature"][2]
        fhat = np.round(ys["feature"] / qf) * qf  # exactly what the decoder rebuilds
        chunks, ranges, symbols, model_bits = {g: [] for g in GROUPS}, {g: [] for g in GROUPS}, {}, {}
        for g, i, (s, e) in _units(cfg):
            mean, scale, qs = _unit_params(cm, heads, g, i, fhat[:, :s] if g == "feature" else None)
            sel = _offset_sel(mask) if g == "offsets" else None
            kq = np.round(ys[g][:, s:e] / qs).reshape(-1)
            if sel is not None:
                kq = kq[sel]
            center, mq, sq = _group_coder_params((mean, scale, qs), sel)
            r = kq.astype(np.int64) - center
            lo, hi = (int(r.min()), int(r.max())) if r.size else (0, 0)
            if hi - lo > MAX_RESIDUAL_RANGE:
                raise InputError(f"{g}: symbol range {hi - lo} is beyond {MAX_RESIDUAL_RANGE}; the entropy model "
                                 "does not fit these values (train the model on this scene)")
            chunks[g].append(ans.encode_gaussian(r, mq, sq, lo, hi))
            model_bits[g] = model_bits.get(g, 0.0) + ans.estimate_bits_gaussian(r, mq, sq, lo, hi)
            ranges[g].append([lo, hi])
            symbols.setdefault(g, []).append(r)
        symbols = {g: np.concatenate(v) for g, v in symbols.items()}
        payloads = {g: b"".join(struct.pack("<I", len(c)) + c for c in chunks[g]) for g in GROUPS}
        prm = cm.coder_inputs(anchors_dec, fhat, heads=heads)
        est = cm.estimate_bits(anchors_dec, stored["feature"], stored["scaling"], stored["offsets"], mask, params=prm)

        header = {
            "codec": self.name, "codec_version": CODEC_VERSION, "count": n, "count_in": n_in,
            "feat_dim": scene.feat_dim, "n_offsets": k, "position_bits": bits,
            "bounds": [plo.tolist(), phi.tolist()], "context_bounds": ctx_bounds, "hac": cfg.to_dict(),
            "hash_p": hb.p, "mask_p": slot_p, "ranges": ranges, "mlp_dtype": self.mlp_dtype,
            "context_dtype": ctx_dtype,
            "decoder_config": scene.decoder_config, "decoder_tensors": dec_table,
            "section_groups": self.SECTION_GROUPS,
        }
        sections = [Section("location", "morton-delta", loc), Section("hash", "ans-bernoulli", hb.payload),
                    Section("masks", "ans-bernoulli-markov", masks), Section("mlp_context", f"raw-{'f16' if ctx_dtype == 'float16' else 'f32'}", mlp_ctx),
                    Section("mlp_decoder", f"raw-{'f16' if self.mlp_dtype == 'float16' else 'f32'}", mlp_dec)]
        sections += [Section(g, "ans-gauss-ctx", payloads[g]) for g in GROUPS]
        data = container.pack(header, sections)
        self.last_symbols = {**symbols, "masks": mask.copy(), "positions": q[order].copy()}
        self.last_stats = {
            "anchors": n, "dropped": n_in - n, "active_offsets": int(mask.sum()), "bytes": len(data),
            "encode_seconds": time.perf_counter() - t0,
            "bits": {g: {"estimated": est[g], "model": model_bits[g], "coded": 8 * sum(len(c) for c in chunks[g])}
                     for g in GROUPS},
            "hash_bits": {"estimated": est["hash"], "coded": 8 * len(hb.payload)},
            "sections": {s.name: len(s.data) for s in sections},
        }
        return data

    def decode(self, data: bytes) -> AnchorScene:
        return self.decode_stream(data)

    # ---- decode ----------------------------------------------------------------------------
    @classmethod
    def decode_stream(cls, data: bytes) -> AnchorScene:
        return cls._decode(data)[0]

    @classmethod
    def decode_symbols(cls, data: bytes) -> dict[str, np.ndarray]:
        """The coded integers (residuals per group, masks, grid positions), for tests/tools."""
        return cls._decode(data)[1]

    @classmethod
    def _decode(cls, data: bytes):
        header, sections = container.unpack(data)
        if header.get("codec") != cls.name:
            raise CorruptStreamError(f"stream is codec {header.get('codec')!r}, not {cls.name!r}")
        if read_count(header, "codec_version", 1, 1 << 16) > CODEC_VERSION:
            raise CorruptStreamError(f"hac stream version is newer than this decoder ({CODEC_VERSION})")
        n = read_count(header, "count", 0, MAX_ANCHORS)
        bits = read_count(header, "position_bits", 1, 21)
        try:
            cfg = HacConfig.from_dict(header.get("hac"))
        except InputError as e:
            raise CorruptStreamError(f"hac header: {e}") from None
        if read_count(header, "feat_dim", 1, 4096) != cfg.feat_dim or read_count(header, "n_offsets", 1, 1024) != cfg.n_offsets:
            raise CorruptStreamError("hac header: feature / offset counts disagree with the HAC config")
        k = cfg.n_offsets
        n_hash = cfg.hash_entries()
        if n_hash > MAX_HASH_BITS:
            raise CorruptStreamError(f"hac header: hash grid of {n_hash} entries is beyond the limit")
        try:
            plo, phi = (np.asarray(b, np.float32).reshape(3) for b in header["bounds"])
            clo, chi = (np.asarray(b, np.float32).reshape(3) for b in header["context_bounds"])
            hash_p = float(header["hash_p"])
            slot_p = [[float(p0), float(p1)] for p0, p1 in header["mask_p"]]
            ranges = {g: [(int(lo), int(hi)) for lo, hi in header["ranges"][g]] for g in GROUPS}
            mlp_dtype = header["mlp_dtype"]
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise CorruptStreamError(f"hac header is incomplete or malformed ({e!r})") from None
        if not (np.all(np.isfinite(plo)) and np.all(np.isfinite(phi)) and np.all(np.isfinite(clo)) and np.all(np.isfinite(chi))):
            raise CorruptStreamError("hac header: bounds are not finite")
        if len(slot_p) != k or not all(0 <= p <= 1 for p in sum(slot_p, [hash_p])):
            raise CorruptStreamError("hac header: invalid mask or hash probabilities")
        n_units = {g: sum(1 for u in _units(cfg) if u[0] == g) for g in GROUPS}
        for g, rs in ranges.items():
            if len(rs) != n_units[g]:
                raise CorruptStreamError(f"hac header: {g} has {len(rs)} symbol ranges, the config needs {n_units[g]}")
            for lo, hi in rs:
                if not (-(2**30) <= lo <= hi <= 2**30) or hi - lo > MAX_RESIDUAL_RANGE:
                    raise CorruptStreamError(f"hac header: invalid symbol range for {g}")
        if mlp_dtype not in ("float16", "float32"):
            raise CorruptStreamError(f"hac header: unknown MLP precision {mlp_dtype!r}")

        q = decode_positions(need(sections, "location"), max_points=MAX_ANCHORS)
        if len(q) != n:
            raise CorruptStreamError(f"location holds {len(q)} anchors, the header says {n}")
        anchors = dequantize_positions(q, bits, plo, phi)
        hash_bits = ans.decode_bits(need(sections, "hash"), hash_p, n_hash)
        coder = ans.coder_from_bytes(need(sections, "masks"), "masks")
        mask = np.zeros((n, k), bool)
        for j in range(k):
            prev = mask[:, j - 1] if j else np.ones(n, bool)
            for c in (0, 1):
                rows = prev == c
                (col,) = ans.decode_groups(coder, [(int(rows.sum()), _slot_freqs(slot_p[j][c]))], "masks")
                if col.size and col.max() > 1:
                    raise CorruptStreamError("masks: decoded a symbol that is not a bit")
                mask[rows, j] = col.astype(bool)
        ans.finish_decoding(coder, "masks")
        mlp_ctx = need(sections, "mlp_context")
        ctx_dtype = header.get("context_dtype", "float32")
        if ctx_dtype not in ("float16", "float32"):
            raise CorruptStreamError(f"hac header: unknown context MLP precision {ctx_dtype!r}")
        want = (2 if ctx_dtype == "float16" else 4) * cfg.mlp_param_count()
        if len(mlp_ctx) != want:
            raise CorruptStreamError(f"mlp_context holds {len(mlp_ctx)} bytes, the config needs {want}")
        try:
            cm = _coding_model(cfg, hash_bits, (clo, chi), _context_from_stream(mlp_ctx, ctx_dtype))
        except InputError as e:
            raise CorruptStreamError(f"mlp_context: {e}") from None
        state = unpack_decoder_state(need(sections, "mlp_decoder"), header.get("decoder_tensors"))
        dcfg = header.get("decoder_config", {})
        if not isinstance(dcfg, dict):
            raise CorruptStreamError("decoder_config is not an object")

        heads = cm.coder_heads(anchors)
        fhat = np.zeros((n, cfg.feat_dim), np.float64)
        out = {"feature": fhat, "scaling": np.zeros((n, 6)), "offsets": np.zeros((n, 3 * k))}
        symbols = {"masks": mask, "positions": q}
        sel_off = _offset_sel(mask)
        payloads = {g: _split_chunks(need(sections, g), len(ranges[g]), g) for g in GROUPS}
        for g, i, (s, e) in _units(cfg):
            mean, scale, qs = _unit_params(cm, heads, g, i, fhat[:, :s] if g == "feature" else None)
            sel = sel_off if g == "offsets" else None
            center, mq, sq = _group_coder_params((mean, scale, qs), sel)
            lo, hi = ranges[g][i]
            r = ans.decode_gaussian(payloads[g][i], mq, sq, lo, hi).astype(np.int64)
            symbols[g] = np.concatenate([symbols[g], r]) if g in symbols else r
            qstep = np.broadcast_to(qs, mean.shape).reshape(-1)
            vals = np.zeros(qstep.size, np.float64)
            if sel is None:
                vals[:] = (r + center) * qstep
            else:
                vals[sel] = (r + center) * qstep[sel]
            out[g][:, s:e] = vals.reshape(n, e - s)
        scene = AnchorScene(
            anchors=torch.from_numpy(anchors.astype(np.float32)),
            features=torch.from_numpy(out["feature"].reshape(n, cfg.feat_dim).astype(np.float32)),
            scaling=torch.from_numpy(cm.stored_scaling(out["scaling"]).reshape(n, 6).astype(np.float32)),
            offsets=torch.from_numpy(out["offsets"].reshape(n, k, 3).astype(np.float32)),
            offset_mask=torch.from_numpy(mask),
            decoder_state=state, decoder_config=dcfg, entropy_model=None)
        return scene, symbols
