"""Coding attributes on a training-time grid, shared by Static and Dynamic GSCodec.

A codec trained with compression simulation stores each attribute as integer symbols on the
grid the simulation fixed (y = (x - origin) / step - center), so the decoder rebuilds exactly
the values training rendered. Constrained attributes are coded with the learned distribution
(its weights travel in the stream) unless a post-training coder is smaller; the choice is the
section's method. Why the encoder codes with models rebuilt from the bytes it stores: encoder
and decoder then evaluate the coder's tables from bit-identical weights (float64, CPU), the
determinism docs/determinism.md asks for.

Header entry of one attribute ("grid" mode): origin, step (float32 per channel), center,
lo / hi (the symbol range per channel), and bits when a post-training coder won.
"""
from __future__ import annotations

import numpy as np
import torch

from gscodec.coding import ans
from gscodec.coding.container import Section
from gscodec.coding.stream import frame, need, pack_tensors, unframe, unpack_tensors
from gscodec.coding.symbols import decode_best, encode_best
from gscodec.errors import CorruptStreamError, InputError


def bits_needed(span: int) -> int:
    """Bits of an unsigned symbol in [0, span]."""
    return max(1, int(np.ceil(np.log2(span + 1)))) if span > 0 else 1


def is_hash_model(model) -> bool:
    return hasattr(model, "context")


def model_of(sim, name: str):
    """The entropy model of attribute `name` (None where it has none; a ModuleDict has no .get)."""
    return sim.entropy[name] if sim is not None and name in sim.entropy else None


def learned_method(model) -> str:
    return "learned-" + ("gaussian" if is_hash_model(model) else "factorized")


# ---- the entropy models as stored ---------------------------------------------------------
def build_sim(sim_cls, cfg_cls, cfg: dict):
    """A fresh simulation from the stream's config; a config this code refuses is corruption."""
    try:
        return sim_cls(cfg_cls.from_dict(cfg))
    except (InputError, TypeError, ValueError, AttributeError) as e:
        raise CorruptStreamError(f"stream's simulation config is invalid ({e})") from None


def store_entropy(models: dict, prefix: str = "") -> tuple[list[Section], dict]:
    """Sections `{prefix}{name}.model` (float32 weights; hash tables as `.hash` sign bits) and
    their header entries."""
    sections, meta = [], {}
    for name, m in models.items():
        state = {k: v for k, v in m.state_dict().items() if ".table" not in k}
        data, layout = pack_tensors(state, "float32")
        entry = {"weights": layout}
        sections.append(Section(f"{prefix}{name}.model", "float32", data))
        if is_hash_model(m):
            hb = m.context.bits_payload()
            entry["hash_p"] = hb.p
            sections.append(Section(f"{prefix}{name}.hash", "ans-bits", hb.payload))
        meta[name] = entry
    return sections, meta


def load_entropy(sim, meta: dict, sections: dict, prefix: str = "", only=None):
    """Load the stored weights into `sim`'s entropy models (those named in `only`, default all;
    the others are dropped, so nothing can code with weights the stream does not hold)."""
    if not isinstance(meta, dict):
        raise CorruptStreamError("stream's entropy model index is malformed")
    for name in list(sim.entropy):
        if only is not None and name not in only:
            del sim.entropy[name]
    for name, m in sim.entropy.items():
        entry = meta.get(name)
        if not isinstance(entry, dict) or "weights" not in entry:
            raise CorruptStreamError(f"stream lacks the entropy model of {name!r}")
        state = _unpack(need(sections, f"{prefix}{name}.model"), entry["weights"], f"entropy model {name!r}")
        bad = [k for k, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:  # a NaN context bound would index the hash grid at -2^63
            raise CorruptStreamError(f"entropy model {name!r} has non-finite weights ({', '.join(bad[:3])})")
        bits = None
        if is_hash_model(m):
            tables = {k: v for k, v in m.state_dict().items() if ".table" in k}
            n = sum(t.numel() for t in tables.values())
            try:
                p = float(entry["hash_p"])
            except (KeyError, TypeError, ValueError):
                raise CorruptStreamError(f"entropy model {name!r} lacks its hash bit probability") from None
            bits = ans.decode_bits(need(sections, f"{prefix}{name}.hash"), p, n)
            state.update(tables)  # placeholders; load_bits sets them
        try:
            m.load_state_dict(state)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[-1].strip()[:160]  # torch lists every mismatch, one per line
            raise CorruptStreamError(f"entropy model {name!r} weights do not fit its config ({first})") from None
        if bits is not None:
            m.context.load_bits(bits)
    return sim.eval()


def _unpack(data: bytes, layout, what: str) -> dict:
    try:
        return unpack_tensors(data, layout)
    except (TypeError, ValueError, OverflowError) as e:  # a forged layout the table checks did not anticipate
        raise CorruptStreamError(f"{what}: weight table is malformed ({e})") from None


# ---- learned coding -------------------------------------------------------------------------
def learned_encode(model, y: np.ndarray, xyz, lo, hi) -> bytes:
    if is_hash_model(model):
        mean, scale = model.coder_params(xyz)
        return model.conditional.encode(y.reshape(-1), mean, scale, 1.0, int(lo.min()), int(hi.max()))
    return frame(model.encode(y, lo, hi))


def learned_decode(model, data: bytes, n: int, c: int, xyz, lo, hi, what: str) -> np.ndarray:
    if is_hash_model(model):
        mean, scale = model.coder_params(xyz)
        return model.conditional.decode(data, mean, scale, 1.0, int(lo.min()), int(hi.max())).reshape(n, c)
    parts = unframe(data, what)
    if len(parts) != c:
        raise CorruptStreamError(f"section {what!r} holds {len(parts)} channels, expected {c}")
    return model.decode(parts, n, lo, hi)


@torch.no_grad()
def estimate_bits(model, y: np.ndarray, xyz) -> float:
    """The model's own estimate of the symbols' cost (float64), for the stats."""
    yt = torch.from_numpy(y.astype(np.float64))
    m = model.double()
    b = m.bits(torch.from_numpy(xyz.astype(np.float64)), yt) if is_hash_model(m) else m.bits(yt)
    model.float()
    return float(b)


def post_training(q: np.ndarray, bits: int) -> tuple[bytes, str]:
    """The smallest of the post-training symbol coders (gscodec.coding.symbols)."""
    return encode_best(q, bits)[:2]


def encode_grid(sim, name: str, x: torch.Tensor, model, xyz, section: str, *, learned_only: bool = False,
                post=post_training) -> tuple[Section, dict, dict]:
    """One attribute [N, C] (channel form) as symbols on `sim`'s grid: coded with `model` (the
    learned distribution rebuilt from the stream, or None) or with `post(q, bits)` on the
    unsigned symbols q = y - lo, whichever is smaller (learned_only: the learned one).
    Returns (section, header entry, stats)."""
    qz, n, c = sim.quantizers[name], len(x), x.shape[1]
    y = sim.symbols(name, x.to(qz.lo.device)).cpu().numpy().astype(np.int64)  # the sim may sit on a GPU
    lo = y.min(0) if n else np.zeros(c, np.int64)
    hi = y.max(0) if n else np.zeros(c, np.int64)
    entry = {"mode": "grid", "origin": qz.origin().detach().cpu().numpy().astype(np.float32).tolist(),
             "step": qz.step().detach().cpu().numpy().astype(np.float32).tolist(), "center": sim.center(name),
             "lo": lo.tolist(), "hi": hi.tolist()}
    bits = bits_needed(int((hi - lo).max()) if n else 0)
    post_data, post_method = post(y - lo, bits) if n else (b"", "raw")
    st = {"post_training_bytes": len(post_data), "post_training_method": post_method}
    if model is not None and n:
        learned = learned_encode(model, y, xyz, lo, hi)
        st["learned_bytes"] = len(learned)
        st["estimated_bits"] = estimate_bits(model, y, xyz)
        if learned_only or len(learned) <= len(post_data):
            st.update(method=learned_method(model), bytes=len(learned))
            return Section(section, learned_method(model), learned), entry, st
    entry["bits"] = bits
    st.update(method=post_method, bytes=len(post_data))
    return Section(section, post_method, post_data), entry, st


def read_grid_entry(entry, c: int, name: str):
    """(lo, hi int64 [C], origin, step float32 [C], center) of a grid entry, checked."""
    if not isinstance(entry, dict):
        raise CorruptStreamError(f"header lacks the description of {name!r}")
    try:
        lo, hi = np.asarray(entry["lo"], np.float64), np.asarray(entry["hi"], np.float64)
        origin, step = np.asarray(entry["origin"], np.float64), np.asarray(entry["step"], np.float64)
        center = int(entry["center"])
        if not ((np.abs(lo) < 2 ** 40).all() and (np.abs(hi) < 2 ** 40).all() and (np.abs(origin) < 1e30).all()
                and (np.abs(step) < 1e30).all()):
            raise ValueError("non-finite or huge grid values")
        lo_i, hi_i = lo.astype(np.int64), hi.astype(np.int64)
        origin, step = origin.astype(np.float32), step.astype(np.float32)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptStreamError(f"header entry of {name!r} is malformed ({e})") from None
    if lo_i.shape != (c,) or hi_i.shape != (c,) or origin.shape != (c,) or step.shape != (c,) \
            or np.any(hi_i < lo_i) or np.any(hi_i - lo_i > ans.MAX_ALPHABET) or abs(center) > 2 ** 20:
        raise CorruptStreamError(f"symbol range of {name!r} is invalid")
    return lo_i, hi_i, origin, step, center


def decode_grid(name: str, entry, sec: Section, model, xyz, n: int, c: int, post_decode=None) -> np.ndarray:
    """Inverse of encode_grid: float32 [n, C]. `post_decode(section, n)` -> unsigned symbols
    [n, C] decodes the post-training methods (default: gscodec.coding.symbols)."""
    lo, hi, origin, step, center = read_grid_entry(entry, c, name)
    if n == 0:
        y = np.zeros((0, c), np.int64)
    elif sec.method.startswith("learned-"):
        if model is None or sec.method != learned_method(model):
            raise CorruptStreamError(f"{name!r} is coded with a learned model the stream does not hold")
        y = learned_decode(model, sec.data, n, c, xyz, lo, hi, name)
    else:
        q = post_decode(sec, n) if post_decode is not None else decode_best(sec.data, sec.method, n, channels=c)
        y = np.asarray(q).astype(np.int64) + lo
    if y.shape != (n, c):
        raise CorruptStreamError(f"{name!r} decoded to shape {list(y.shape)}, expected {[n, c]}")
    return ((y + center).astype(np.float32) * step + origin).astype(np.float32)


__all__ = ["bits_needed", "build_sim", "decode_grid", "encode_grid", "estimate_bits", "is_hash_model",
           "learned_decode", "learned_encode", "learned_method", "load_entropy", "model_of", "post_training",
           "read_grid_entry", "store_entropy"]
