"""The generic anchor codec: drives any AnchorEntropyModel (gscodec.entropy.anchor_model).

A method is a configuration of this class (a name, an entropy-model class, section groups):
`hac` is one. Stream, sections in order (`gscodec info` groups them like the papers' table):
  location     anchors on a 16-bit grid over their bounding box, Morton order + delta
               (coding/positions, lossless); every other array is stored in that order
  (model)      the entropy model's side information (`stream_state`: e.g. hash bits, weights)
  masks        offset masks: per slot two Bernoulli probabilities (header), chosen by the
               previous slot's bit of the same anchor; one ANS stream
  mlp_decoder  scene.decoder_state (Scaffold's MLPs), float16 by default (`mlp_dtype`); a
               representation may send some of its networks to sections of their own
               (DECODER_SECTIONS: network -> section, e.g. Predict-GS's feature pool)
  feature, scaling, offsets
               per group one u32-length frame per coding unit, in the model's decode order.
Each unit's parameters come from the model as the decoder rebuilds it (from the stream
alone) and the DECODED positions and values, in float64 on the CPU. A value is coded as
r = round(y/Q) - round(mean/Q) under the unit's family (quantized Gaussian, Laplace or
Gaussian mixture, gscodec.coding.ans.FAMILIES) of mean mean/Q - round(mean/Q) and scale scale/Q: the same
distribution shifted by an integer, so the symbol range stays small whatever Q is.
Anchors whose offsets are all masked spawn nothing and are dropped before coding.
"""
from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import torch

from gscodec.codecs.anchor_raw import MAX_ANCHORS, check_scene
from gscodec.codecs.base import StreamCodec
from gscodec.coding import ans, container
from gscodec.coding.container import Section
from gscodec.coding.schema import AnchorHeader
from gscodec.coding.positions import (
    decode_positions,
    dequantize_positions,
    encode_positions,
    quantize_positions,
)
from gscodec.coding.stream import (
    frame,
    header_fields,
    need,
    pack_tensors,
    read_count,
    unframe,
    unpack_tensors,
)
from gscodec.entropy.anchor_model import GROUPS, AnchorEntropyModel, UnitParams
from gscodec.entropy.gaussian import bin_likelihood
from gscodec.errors import CorruptStreamError, InputError
from gscodec.models.scaffold import ScaffoldModel
from gscodec.scene.anchors import AnchorScene

MAX_RESIDUAL_RANGE = 1 << 24
MAX_UNITS = 256  # coding units a model may have per group (a forged header is refused beyond)


def _coder_params(prm: UnitParams, sel=None):
    """(center, means, scales, weights) per symbol: center = round(mean/Q) (int64; a mixture's
    weighted mean), means = mean/Q - center, scales = scale/Q, flat ([n, M] for a mixture,
    with its weights; weights None otherwise); restricted to `sel` (flat bool) when given."""
    q = np.broadcast_to(prm.q, prm.shape)
    if prm.weights is None:
        mq, sq, w = prm.mean / q, prm.scale / q, None
        center = np.round(mq)
    else:
        mq, sq = prm.mean / q[..., None], prm.scale / q[..., None]
        tot = prm.weights.sum(-1)
        center = np.round((prm.weights * mq).sum(-1) / np.where(tot > 0, tot, 1.0))
        w = prm.weights.reshape(center.size, -1)
    center = center.reshape(-1)
    per = () if w is None else (-1,)  # a mixture keeps its component dim
    mq, sq = mq.reshape(center.size, *per), sq.reshape(center.size, *per)
    if sel is not None:
        center, mq, sq = center[sel], mq[sel], sq[sel]
        w = w[sel] if w is not None else None
    rel = mq - (center if w is None else center[:, None])
    return center.astype(np.int64), rel, sq, w


def _estimated_bits(k: np.ndarray, prm: UnitParams, sel) -> float:
    """The training formula (the family's bin mass, floored likelihood) on the final symbols."""
    q = np.broadcast_to(prm.q, prm.shape)
    t = [torch.from_numpy(np.array(a, np.float64)) for a in (k * q, prm.mean, prm.scale, q)]
    w = None if prm.weights is None else torch.from_numpy(np.array(prm.weights, np.float64))
    b = -torch.log2(bin_likelihood(prm.family, *t, weights=w)).numpy().reshape(-1)
    return float(b[sel].sum() if sel is not None else b.sum())


def _mask_prev(mask: np.ndarray):
    """Context of slot j's bits: slot j-1's bit in the same anchor (slot 0: constant 1).
    Masks of one anchor are correlated (pruning hits whole regions), so two Bernoulli
    probabilities per slot, P(on | previous off) and P(on | previous on), beat one."""
    for j in range(mask.shape[1]):
        yield mask[:, j - 1] if j else np.ones(mask.shape[0], bool)


def _offset_sel(mask: np.ndarray) -> np.ndarray:
    return np.repeat(mask, 3, axis=1).reshape(-1)


class AnchorCodec(StreamCodec):
    """Subclass with: name, version, model_class, SECTION_GROUPS (and register_codec); a
    method with its own representation also sets representation_class (a registered
    ScaffoldModel subclass: gscodec.models.scaffold.register_decoder)."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    header_schema = AnchorHeader
    model_class: ClassVar[type[AnchorEntropyModel]]
    representation_class: ClassVar[type[ScaffoldModel]] = ScaffoldModel
    DECODER_SECTIONS: ClassVar[dict[str, str]] = {}  # network name -> its own section (default mlp_decoder)
    SECTION_GROUPS: ClassVar[dict[str, str]] = {"location": "location", "masks": "masks", "mlp_decoder": "MLPs",
                                                "feature": "feature", "scaling": "scaling", "offsets": "offsets"}
    trains_with_compression = True
    representation = "anchors"  # trained by gscodec.train.anchor_run.train_and_compress_anchors

    def __init__(self, position_bits: int = 16, mlp_dtype: str = "float16", context_dtype: str = "float16",
                 **training_keys):
        """training_keys (lambda_rate, hac) belong to the training run; ignored here. There is
        no `quality`: the rate is set by λ in training. context_dtype: the entropy model's weights."""
        unknown = set(training_keys) - {"lambda_rate", "hac"}
        if unknown:
            raise InputError(f"unknown {self.name} codec options: {', '.join(sorted(unknown))}")
        if not isinstance(position_bits, int) or not 1 <= position_bits <= 21:
            raise InputError(f"position_bits must be an integer in 1..21, got {position_bits!r}")
        for what, v in (("mlp_dtype", mlp_dtype), ("context_dtype", context_dtype)):
            if v not in ("float16", "float32"):
                raise InputError(f"{what} must be float16 or float32, got {v!r}")
        self.position_bits, self.mlp_dtype, self.context_dtype = position_bits, mlp_dtype, context_dtype
        self.last_stats: dict = {}
        self.last_symbols: dict = {}

    @classmethod
    def training_phases(cls, cfg) -> tuple:
        """Phases (train.scaffold.Phase) this method adds to HAC's schedule; default none."""
        return ()

    def model_options(self) -> dict:
        """Entropy-model config entries this codec's options set (e.g. MoP's expert count);
        a training run builds the model with them (the user's `hac` overrides win)."""
        return {}

    # ---- encode ----------------------------------------------------------------------------
    def encode(self, scene: AnchorScene) -> bytes:
        t0 = time.perf_counter()
        model = scene.entropy_model if isinstance(scene, AnchorScene) else None
        scene = check_scene(scene)
        want = self.model_class.__name__
        if model is None:
            raise InputError(f"the {self.name} codec needs scene.entropy_model (the trained {want}); it is None")
        if not isinstance(model, self.model_class):
            raise InputError(f"scene.entropy_model is a {type(model).__name__}, not a {want}")
        if model.feat_dim != scene.feat_dim or model.n_offsets != scene.n_offsets:
            raise InputError(f"entropy model is for feat_dim={model.feat_dim}, k={model.n_offsets}; the scene has "
                             f"{scene.feat_dim}, {scene.n_offsets}")
        n_in = len(scene)
        arrays = model.anchor_arrays()  # per trained anchor (e.g. MoP's element matrix)
        for name, a in arrays.items():
            if len(a) != n_in:
                raise InputError(f"the entropy model's {name} covers {len(a)} anchors, the scene has {n_in} "
                                 "(encode the scene the model was trained with)")
        keep = scene.offset_mask.any(1)
        scene = scene.subset(keep)
        n = len(scene)
        bits = self.position_bits
        q, plo, phi = quantize_positions(scene.anchors.numpy(), bits)
        loc, order = encode_positions(q, bits)
        scene = scene.subset(torch.from_numpy(order.astype(np.int64)))
        arrays = {name: a[keep.numpy()][order] for name, a in arrays.items()}
        anchors_dec = dequantize_positions(q[order], bits, plo, phi)

        side_header, side_sections = model.stream_state(self.context_dtype)
        parts = self._split_state(scene.decoder_state)
        mlp_dec, dec_table = pack_tensors(parts.pop("mlp_decoder", {}), self.mlp_dtype)
        extra = {sec: pack_tensors(st, self.mlp_dtype) for sec, st in sorted(parts.items())}
        mask = scene.offset_mask.numpy().astype(bool)
        masks, slot_p = self._encode_masks(mask)

        # the model exactly as the decoder rebuilds it; attributes unit by unit in decode order
        cm = self.model_class.from_stream(side_header, {s.name: s for s in side_sections})
        ctx = cm.coding_context(anchors_dec)
        anchor_header, anchor_sections = cm.encode_anchor_side(ctx, arrays)  # e.g. MoP's step indices
        ctx = cm.decode_anchor_side(ctx, anchor_header, {s.name: s for s in anchor_sections})
        stored = {"feature": scene.features, "scaling": scene.scaling, "offsets": scene.offsets}
        ys = {g: np.asarray(cm.to_coded(g, np.asarray(t.numpy(), np.float64).reshape(n, cm.dims[g])))
              for g, t in stored.items()}
        decoded = {g: np.zeros((n, d)) for g, d in cm.dims.items()}
        frames, ranges, symbols = {g: [] for g in GROUPS}, {g: [] for g in GROUPS}, {}
        est, model_bits = dict.fromkeys(GROUPS, 0.0), dict.fromkeys(GROUPS, 0.0)
        for u in cm.coding_units(ctx):
            prm = cm.unit_params(u, ctx, decoded)
            rows = u.anchors
            sel = _offset_sel(mask[rows, u.start // 3 : u.end // 3]) if u.group == "offsets" else None
            k = np.round(ys[u.group][rows, u.start : u.end] / prm.q)
            center, mq, sq, w = _coder_params(prm, sel)
            r = k.reshape(-1).astype(np.int64)
            r = (r[sel] if sel is not None else r) - center
            lo, hi = (int(r.min()), int(r.max())) if r.size else (0, 0)
            if hi - lo > MAX_RESIDUAL_RANGE:
                raise InputError(f"{u.group}: symbol range {hi - lo} is beyond {MAX_RESIDUAL_RANGE}; the entropy "
                                 "model does not fit these values (train the model on this scene)")
            frames[u.group].append(ans.encode_quantized(prm.family, r, mq, sq, lo, hi, weights=w))
            model_bits[u.group] += ans.estimate_bits_quantized(prm.family, r, mq, sq, lo, hi, weights=w)
            est[u.group] += _estimated_bits(k, prm, sel)
            ranges[u.group].append([lo, hi])
            symbols.setdefault(u.group, []).append(r)
            vals = k * np.broadcast_to(prm.q, k.shape)
            if sel is not None:
                vals = np.where(sel.reshape(vals.shape), vals, 0.0)
            decoded[u.group][rows, u.start : u.end] = vals  # exactly what the decoder rebuilds
        header = {
            "codec": self.name, "codec_version": self.version, "count": n, "count_in": n_in,
            "feat_dim": scene.feat_dim, "n_offsets": scene.n_offsets, "position_bits": bits,
            "bounds": [plo.tolist(), phi.tolist()], **side_header, **anchor_header, "mask_p": slot_p, "ranges": ranges,
            "mlp_dtype": self.mlp_dtype, "decoder_config": scene.decoder_config, "decoder_tensors": dec_table,
            **({"decoder_sections": {sec: t for sec, (_, t) in extra.items()}} if extra else {}),
            "section_groups": self.SECTION_GROUPS,
        }
        f16 = "f16" if self.mlp_dtype == "float16" else "f32"
        sections = [Section("location", "morton-delta", loc), *side_sections, *anchor_sections,
                    Section("masks", "ans-bernoulli-markov", masks), Section("mlp_decoder", f"raw-{f16}", mlp_dec),
                    *(Section(sec, f"raw-{f16}", d) for sec, (d, _) in extra.items())]
        sections += [Section(g, "ans-gauss-ctx", frame(frames[g], counted=False)) for g in GROUPS]
        data = container.pack(header, sections)
        self.last_symbols = {**{g: np.concatenate(v) for g, v in symbols.items()}, "masks": mask.copy(),
                             "positions": q[order].copy()}
        side = {k: {"estimated": v, "coded": 8 * sum(len(s.data) for s in (*side_sections, *anchor_sections)
                                                     if s.name == k)}
                for k, v in cm.side_bits().items()}
        self.last_stats = {
            "anchors": n, "dropped": n_in - n, "active_offsets": int(mask.sum()), "bytes": len(data),
            "encode_seconds": time.perf_counter() - t0,
            "bits": {g: {"estimated": est[g], "model": model_bits[g], "coded": 8 * sum(len(c) for c in frames[g])}
                     for g in GROUPS},
            **{f"{k}_bits": v for k, v in side.items()},
            "sections": {s.name: len(s.data) for s in sections},
        }
        return data

    def _split_state(self, state: dict) -> dict[str, dict]:
        """decoder_state by section: a tensor 'net.param' goes where DECODER_SECTIONS sends net."""
        parts: dict[str, dict] = {}
        for name, t in state.items():
            parts.setdefault(self.DECODER_SECTIONS.get(name.split(".")[0], "mlp_decoder"), {})[name] = t
        return parts

    @staticmethod
    def _encode_masks(mask: np.ndarray) -> tuple[bytes, list]:
        slot_p, groups = [], []
        for j, prev in enumerate(_mask_prev(mask)):
            ps = []
            for c in (0, 1):
                col = mask[prev == c, j]
                ps.append(float(np.float32(col.mean())) if col.size else 0.5)
                groups.append((col.astype(np.int32), ans.bit_freqs(ps[-1])))
            slot_p.append(ps)
        coder = ans.new_coder()
        ans.encode_groups(coder, groups)
        return ans.words_to_bytes(coder.get_compressed()), slot_p

    @staticmethod
    def _decode_masks(data: bytes, slot_p: list, n: int, k: int) -> np.ndarray:
        coder = ans.coder_from_bytes(data, "masks")
        mask = np.zeros((n, k), bool)
        for j in range(k):
            prev = mask[:, j - 1] if j else np.ones(n, bool)
            for c in (0, 1):
                rows = prev == c
                (col,) = ans.decode_groups(coder, [(int(rows.sum()), ans.bit_freqs(slot_p[j][c]))], "masks")
                if col.size and col.max() > 1:
                    raise CorruptStreamError("masks: decoded a symbol that is not a bit")
                mask[rows, j] = col.astype(bool)
        ans.finish_decoding(coder, "masks")
        return mask


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
        header, sections = cls.unpack(data)
        n = read_count(header, "count", 0, MAX_ANCHORS)
        bits = read_count(header, "position_bits", 1, 21)
        cm = cls.model_class.from_stream(header, sections)  # refuses a malformed model header
        if read_count(header, "feat_dim", 1, 4096) != cm.feat_dim or read_count(header, "n_offsets", 1, 1024) != cm.n_offsets:
            raise CorruptStreamError(f"{cls.name} header: feature / offset counts disagree with the model config")
        k = cm.n_offsets
        with header_fields(cls.name):
            plo, phi = (np.asarray(b, np.float32).reshape(3) for b in header["bounds"])
            slot_p = [[float(p0), float(p1)] for p0, p1 in header["mask_p"]]
            ranges = {g: [(int(lo), int(hi)) for lo, hi in header["ranges"][g]] for g in GROUPS}
            mlp_dtype = header["mlp_dtype"]
        if not (np.all(np.isfinite(plo)) and np.all(np.isfinite(phi))):
            raise CorruptStreamError(f"{cls.name} header: bounds are not finite")
        if len(slot_p) != k or not all(0 <= p <= 1 for p in sum(slot_p, [])):
            raise CorruptStreamError(f"{cls.name} header: invalid mask probabilities")
        for g, rs in ranges.items():
            if len(rs) > 4 * MAX_UNITS:
                raise CorruptStreamError(f"{cls.name} header: {g} has {len(rs)} symbol ranges")
            for lo, hi in rs:
                if not (-(2**30) <= lo <= hi <= 2**30) or hi - lo > MAX_RESIDUAL_RANGE:
                    raise CorruptStreamError(f"{cls.name} header: invalid symbol range for {g}")
        if mlp_dtype not in ("float16", "float32"):
            raise CorruptStreamError(f"{cls.name} header: unknown MLP precision {mlp_dtype!r}")

        q = decode_positions(need(sections, "location"), max_points=n)  # n is bounded by the file size
        if len(q) != n:
            raise CorruptStreamError(f"location holds {len(q)} anchors, the header says {n}")
        anchors = dequantize_positions(q, bits, plo, phi)
        mask = cls._decode_masks(need(sections, "masks"), slot_p, n, k)
        state = unpack_tensors(need(sections, "mlp_decoder"), header.get("decoder_tensors"))
        extra = header.get("decoder_sections", {})
        if not isinstance(extra, dict) or len(extra) > 8 or any(s in GROUPS or s == "mlp_decoder" for s in extra):
            raise CorruptStreamError("decoder_sections is malformed")
        for sec, table in extra.items():
            part = unpack_tensors(need(sections, sec), table)
            if set(part) & set(state):
                raise CorruptStreamError(f"section {sec!r} repeats decoder tensors")
            state.update(part)
        dcfg = header.get("decoder_config", {})
        if not isinstance(dcfg, dict):
            raise CorruptStreamError("decoder_config is not an object")

        ctx = cm.decode_anchor_side(cm.coding_context(anchors), header, sections)
        units = cm.coding_units(ctx)
        for g, rs in ranges.items():
            if len(rs) != sum(1 for u in units if u.group == g):
                raise CorruptStreamError(f"{cls.name} header: {g} has {len(rs)} symbol ranges, the model has "
                                         f"{sum(1 for u in units if u.group == g)} units")
        decoded = {g: np.zeros((n, d)) for g, d in cm.dims.items()}
        symbols = {"masks": mask, "positions": q}
        payloads = {g: unframe(need(sections, g), g, count=len(ranges[g])) for g in GROUPS}
        for u in units:
            prm = cm.unit_params(u, ctx, decoded)
            rows = u.anchors
            sel = _offset_sel(mask[rows, u.start // 3 : u.end // 3]) if u.group == "offsets" else None
            center, mq, sq, w = _coder_params(prm, sel)
            lo, hi = ranges[u.group][u.index]
            r = ans.decode_quantized(prm.family, payloads[u.group][u.index], mq, sq, lo, hi,
                                     weights=w).astype(np.int64)
            symbols[u.group] = np.concatenate([symbols[u.group], r]) if u.group in symbols else r
            qstep = np.broadcast_to(prm.q, prm.shape).reshape(-1)
            vals = np.zeros(qstep.size, np.float64)
            if sel is None:
                vals[:] = (r + center) * qstep
            else:
                vals[sel] = (r + center) * qstep[sel]
            decoded[u.group][rows, u.start : u.end] = vals.reshape(-1, u.end - u.start)
        out = {g: np.asarray(cm.from_coded(g, v)) for g, v in decoded.items()}
        scene = AnchorScene(
            anchors=torch.from_numpy(anchors.astype(np.float32)),
            features=torch.from_numpy(out["feature"].astype(np.float32)),
            scaling=torch.from_numpy(out["scaling"].astype(np.float32)),
            offsets=torch.from_numpy(out["offsets"].reshape(n, k, 3).astype(np.float32)),
            offset_mask=torch.from_numpy(mask), decoder_state=state, decoder_config=dcfg, entropy_model=None)
        return scene, symbols


__all__ = ["AnchorCodec", "MAX_RESIDUAL_RANGE"]
