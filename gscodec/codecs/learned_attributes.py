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


def store_entropy(models: dict, prefix: str = "", float_dtype: str = "float32") -> tuple[list[Section], dict]:
    """Sections `{prefix}{name}.model` (weights as `float_dtype`; hash tables as `.hash` sign
    bits) and their header entries. The layout names each tensor's stored type, so a decoder
    reads either precision; the encoder codes with the models rebuilt from these bytes."""
    sections, meta = [], {}
    for name, m in models.items():
        state = {k: v for k, v in m.state_dict().items() if ".table" not in k}
        data, layout = pack_tensors(state, float_dtype)
        entry = {"weights": layout}
        sections.append(Section(f"{prefix}{name}.model", float_dtype, data))
        if is_hash_model(m):
            hb = m.context.bits_payload()
            entry["hash_p"] = hb.p
            sections.append(Section(f"{prefix}{name}.hash", "ans-bits", hb.payload))
        meta[name] = entry
    return sections, meta


def side_bytes(name: str, sections: list[Section], meta: dict) -> int:
    """What a stored model of attribute `name` adds to a stream: its sections, its header entry
    (the weight layout, as the container writes JSON) and the sections' table rows."""
    import json

    own = [s for s in sections if s.name.split(".")[0] == name]
    entry = meta.get(name)
    head = len(json.dumps({name: entry}, separators=(",", ":"))) if entry is not None else 0
    return sum(len(s.data) + len(s.name) + len(s.method) + 14 for s in own) + head


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


# ---- refitting a factorized model to the symbols it codes -----------------------------------
REFIT_STEPS = 60  # Adam at lr 5e-2: ~1 s per attribute; 300 at 1e-2 saved 0.2-2% more (#21 item 8)
REFIT_ROWS = 16384  # rows the refit sees at most (a seeded sample): its cost stays ~1 s per attribute
REFIT_SLACK = 1.01  # a model already within 1% of the symbols' own i.i.d. entropy is kept as trained


def iid_entropy_bits(y: np.ndarray) -> float:
    """Empirical entropy of each column of integer symbols y [N, C], summed: the floor of any
    per-channel (factorized) model's cost on exactly these symbols, tables not counted."""
    total = 0.0
    for col in np.asarray(y).T:
        cnt = np.unique(col, return_counts=True)[1].astype(np.float64)
        total -= float((cnt * np.log2(cnt / cnt.sum())).sum())
    return total


def refit_factorized(model, y: np.ndarray, steps: int = REFIT_STEPS, rows: int = REFIT_ROWS):
    """The trained per-channel density, fine-tuned on the final integer symbols it will code.

    Why (docs: #21 item 8): training fits it on noisy values over the simulation's last steps,
    while the values still move, and codes them 1-33% above their own entropy (quaternions
    the most); post-training histograms fit the final symbols exactly. Refitting at the exact
    bin masses closes most of that gap; the encoder stores the refitted weights, so the decoder
    is unchanged and rebuilds the same tables from the bytes."""
    import copy

    y = np.asarray(y, np.int64)
    if len(y) > rows:
        y = y[np.sort(np.random.default_rng(0).choice(len(y), rows, replace=False))]
    m = copy.deepcopy(model).to("cpu", torch.float32).train()  # encoder only: its weights are what travels
    yt = torch.from_numpy(y.astype(np.float32))
    opt = torch.optim.Adam(m.parameters(), lr=5e-2)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            (m.bits(yt) / len(yt)).backward()
            opt.step()
    return m.float().eval()


def refit_models(sim, symbols: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """The models to store: each factorized one refitted to `symbols[name]` when that codes
    them smaller (exact coder cost), the others (hash-grid models) as trained; plus stats."""
    import copy

    models, stats = {}, {}
    for name, m in sim.entropy.items():
        models[name] = m
        y = symbols.get(name)
        if y is None or not len(y) or is_hash_model(m):
            continue
        lo, hi = y.min(0), y.max(0)
        m_cpu = copy.deepcopy(m).to("cpu")  # the trainer's own model stays where it is
        before, floor = m_cpu.coded_bits(y, lo, hi), iid_entropy_bits(y)
        st = {"iid_entropy_bits": floor, "trained_bits": before}
        if before > REFIT_SLACK * floor:
            r = refit_factorized(m_cpu, y)
            after = r.coded_bits(y, lo, hi)
            st["refit_bits"] = after
            if after < before:
                models[name] = r
        stats[name] = st
    return models, stats


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


def grid_symbols(sim, name: str, x: torch.Tensor) -> np.ndarray:
    """x's integer symbols on `sim`'s grid, int64 on the CPU (the sim may sit on a GPU)."""
    with torch.no_grad():
        return sim.symbols(name, x.to(sim.quantizers[name].lo.device)).cpu().numpy().astype(np.int64)


def encode_grid(sim, name: str, x: torch.Tensor, model, xyz, section: str, *, learned_only: bool = False,
                post=post_training, model_bytes: int = 0,
                symbols: np.ndarray | None = None) -> tuple[Section, dict, dict]:
    """One attribute [N, C] (channel form) as symbols on `sim`'s grid: coded with `model` (the
    learned distribution rebuilt from the stream, or None) or with `post(q, bits)` on the
    unsigned symbols q = y - lo, whichever is smaller (learned_only: the learned one); the learned
    side counts `model_bytes`, its weights, which travel only when a section uses them.
    `symbols`: x's symbols (grid_symbols) when the caller has them already, else computed here.
    Returns (section, header entry, stats)."""
    qz, n, c = sim.quantizers[name], len(x), x.shape[1]
    y = grid_symbols(sim, name, x) if symbols is None else symbols
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
        st["model_bytes"] = model_bytes
        if learned_only or len(learned) + model_bytes <= len(post_data):
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


__all__ = ["bits_needed", "build_sim", "decode_grid", "encode_grid", "estimate_bits", "grid_symbols",
           "iid_entropy_bits", "is_hash_model", "refit_factorized", "refit_models",
           "learned_decode", "learned_encode", "learned_method", "load_entropy", "model_of", "post_training",
           "read_grid_entry", "side_bytes", "store_entropy"]
