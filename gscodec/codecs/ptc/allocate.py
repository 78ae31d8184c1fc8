"""Per-scene bit allocation for ptc: the widths of positions, scales, quaternions, opacity and
SH DC that reach a render PSNR with the fewest bytes (`gscodec encode --target-psnr`).

Why: the quality ladder gives every attribute the same width, but what an attribute's error
costs in the image depends on the scene. On guitar (SH 0, 91k splats, ~61 dB) two more bits on
the scales buy 3.4 dB for 71 KB and two more on the positions 0.24 dB for 68 KB; on small_sh3
the opacity is the cheap win (+1.4 dB for 2 KB). No fixed ladder serves both.

The model is measured, not assumed:
- distortion: each attribute is quantized alone (the rest exact, SH rest as the base quality
  codes it) at three of the candidate widths, rendered from the target's orbit cameras, and its
  added squared error recorded per view (the widths between: log-linear, as quantization error
  falls by a near-constant factor per bit; no extrapolation outside the rendered widths),
  with the importance refinement (refine.py) applied as the codec will apply it;
  errors of different attributes add in each view's MSE (small, independent errors), which
  gives a predicted mean view PSNR for any combination;
- rate: each attribute's coded section at each width, from the codec's own layout encoder
  (the positions' section from the position coder), so the prediction counts context models,
  plus the refinement's bits (near-uniform symbols: r bits each).
Every combination in the window (widths around the base quality's) is scored; the cheapest
whose predicted PSNR reaches the target is encoded, decoded from its bytes and rendered. A miss
raises the prediction's goal by the shortfall, a large overshoot lowers it by the surplus, and
the search runs again (at most `rounds` encodes); when the answer sits at the window's lower
edge, the window moves there (at most `passes` windows). A window costs 16 renders and 6
layout encodes. The result is only a choice of PtcConfig fields: no format change, and the
stream decodes anywhere like any other ptc stream.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from gscodec.codecs.ptc import refine
from gscodec.utils.progress import no_stages

SCALARS = ("scales", "quats", "opacity", "sh_dc")
OFFSETS = (-3, -2, -1, 0, 1, 2)  # candidate widths: the base quality's width plus these
RENDERED = (-3, -1, 2)  # offsets whose error is rendered; the others interpolate log(MSE) between them
OVERSHOOT_DB = 0.3  # a verified stream this far above the target is retried with a lower goal


@dataclass
class Allocation:
    data: bytes
    psnr: float
    position_bits: int
    bits: dict[str, int]
    predicted_psnr: float
    encodes: int  # verification encodes it took

    def overrides(self) -> dict:
        return {"position_bits": self.position_bits, "bits": dict(self.bits)}


@dataclass
class _Prepared:
    """What every window shares: the pruned scene's channels (SH rest as coded) and the
    per-view MSE of that scene with exact positions and scalars."""
    ch: dict
    means: np.ndarray
    degree: int
    base: np.ndarray


def _prepare(scene, ref, cfg, base_stream: bytes) -> _Prepared:
    from gscodec.codecs.ptc.attributes import from_channels, to_channels
    from gscodec.codecs.ptc.prune import prune

    pruned, _ = prune(scene.detach().to("cpu"), cfg.prune)
    ch, means = to_channels(pruned), pruned.means.numpy()
    ch["sh_rest"] = _coded_sh_rest(pruned, cfg, base_stream)
    return _Prepared(ch, means, pruned.sh_degree, ref.view_mse(from_channels(means, ch, pruned.sh_degree)))


def measure(prep: _Prepared, ref, cfg, stage=no_stages) -> dict:
    """Per-view added MSE and coded bytes of every attribute at every candidate width:
    {"base": [V] MSE, attr: {width: ([V] added MSE, bytes)}} for attr in ("positions", *SCALARS)."""
    from gscodec.codecs.ptc import layouts
    from gscodec.codecs.ptc.attributes import from_channels
    from gscodec.coding.positions import dequantize_positions, encode_positions, quantize_positions
    from gscodec.coding.symbols import dequantize_uniform, quantize_uniform

    ch, means, degree = prep.ch, prep.means, prep.degree
    out: dict = {"base": prep.base, "positions": {}, **{a: {} for a in SCALARS}}
    extra = _refinement(ch, cfg)

    def refined(a, x, base, lo, hi, w):  # the decoder's values of one attribute, and the refinement's bytes
        if a not in extra:
            return base, 0
        r = extra[a]
        return refine.refined(x, base, refine.grid_step(lo, hi, w), r), int(np.ceil(r.sum() * x.shape[1] / 8))

    def added(scene_q) -> np.ndarray:
        return np.maximum(ref.view_mse(scene_q) - prep.base, 0.0)

    for d in OFFSETS:
        p = cfg.position_bits + d
        if not 4 <= p <= 21:
            continue
        qpos, lo, hi = quantize_positions(means, p)
        pos, nref = refined("positions", means, dequantize_positions(qpos, p, lo, hi), lo, hi, p)
        out["positions"][p] = [None, len(encode_positions(qpos, p)[0]) + nref]
        if d in RENDERED:
            stage(f"allocation: positions at {p} bits")
            out["positions"][p][0] = added(from_channels(pos, ch, degree))
    qpos = quantize_positions(means, cfg.position_bits)[0]
    for d in OFFSETS:  # one layout encode per offset gives each scalar attribute's bytes at its width
        widths = {a: cfg.bits[a] + d for a in SCALARS if 1 <= cfg.bits[a] + d <= 16}
        if not widths:
            continue
        stage(f"allocation: sizes at widths {d:+d} bits")
        quantized = {a: quantize_uniform(ch[a], w) for a, w in widths.items()}  # (symbols, lo, hi)
        symbols = {a: q[0] for a, q in quantized.items()}
        layout_cfg = dataclasses.replace(cfg, bits={**cfg.bits, **widths})
        sections = layouts.EntropyLayout.encode(qpos, {**symbols, "quat_index": ch["quat_index"]}, None,
                                                {"ranges": {}}, layout_cfg)[0]
        sizes = {sec.name: len(sec.data) for sec in sections}
        for a, w in widths.items():
            q, lo, hi = quantized[a]
            values, nref = refined(a, ch[a], dequantize_uniform(q, w, lo, hi), lo, hi, w)
            out[a][w] = [None, sizes[a] + nref]
            if d in RENDERED:
                stage(f"allocation: {a} at {w} bits")
                out[a][w][0] = added(from_channels(means, {**ch, a: values}, degree))
    for a in ("positions", *SCALARS):
        out[a] = interpolated(out[a])
    return out


def _refinement(ch: dict, cfg) -> dict:
    """Each attribute's extra bits per splat under cfg's importance refinement (refine.py),
    weighed on the exact opacity and scales (the codec weighs the base layer's: close)."""
    if not cfg.refine_max:
        return {}
    weights = refine.log2_weights(ch["opacity"], ch["scales"])
    l0 = refine.thresholds(weights, cfg.refine_quantile)
    return {a: refine.extra_bits(weights[a], l0[a], cfg.refine_max) for a in ("positions", *SCALARS)}


def interpolated(entries: dict) -> dict:
    """{width: [added MSE or None, bytes]} -> {width: (added MSE, bytes)}: the missing errors
    interpolated per view in log(MSE) between the rendered widths around them; widths outside
    the rendered ones are left out (an extrapolated error would be a guess)."""
    known = sorted(w for w, (m, _) in entries.items() if m is not None)
    logs = {w: np.log(np.maximum(entries[w][0], 1e-20)) for w in known}
    out = {}
    for w, (m, nbytes) in sorted(entries.items()):
        if m is None:
            lo = max((k for k in known if k < w), default=None)
            hi = min((k for k in known if k > w), default=None)
            if lo is None or hi is None:
                continue
            t = (w - lo) / (hi - lo)
            m = np.exp((1 - t) * logs[lo] + t * logs[hi])
        out[w] = (np.asarray(m, np.float64), nbytes)
    return out


def _coded_sh_rest(pruned, cfg, base_stream: bytes) -> np.ndarray:
    """SH rest as the base configuration codes it (it keeps the base quality's treatment), in the
    pruned scene's order: `base_stream` (the scene encoded with cfg: the ladder search made it)
    decoded, the Morton permutation (a stable sort) undone."""
    from gscodec.codecs import decode_bytes
    from gscodec.coding.positions import encode_positions, quantize_positions

    n, k = len(pruned), pruned.sh_rest.shape[1]
    if k == 0 or n == 0:
        return np.zeros((n, 3 * k), np.float32)
    decoded = decode_bytes(base_stream, max_splats=None)
    if len(decoded) != n:
        raise ValueError(f"the base stream holds {len(decoded)} splats, the pruned scene {n}: not its encoding")
    order = encode_positions(quantize_positions(pruned.means.numpy(), cfg.position_bits)[0], cfg.position_bits)[1]
    rest = np.empty((n, 3 * k), np.float32)
    rest[order] = decoded.sh_rest.reshape(n, 3 * k).numpy()
    return rest


def cheapest(table: dict, goal_db: float) -> tuple[dict, float] | None:
    """The combination of widths with the fewest predicted bytes whose predicted mean view PSNR
    reaches goal_db: ({attr: width}, predicted PSNR), or None."""
    names = ("positions", *SCALARS)
    options = [sorted(table[a].items()) for a in names]
    base = np.asarray(table["base"], np.float64)
    best, best_cost = None, None
    for combo in itertools.product(*options):
        cost = sum(c for _, (_, c) in combo)
        if best_cost is not None and cost >= best_cost:
            continue
        mse = base + sum(dm for _, (dm, _) in combo)
        pred = float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-20))))
        if pred >= goal_db:
            best, best_cost = ({a: w for a, (w, _) in zip(names, combo)}, pred), cost
    return best


def allocate(scene, ref, target_db: float, cfg, codec_options: dict, base_stream: bytes, stage=no_stages,
             rounds: int = 3, passes: int = 2) -> Allocation | None:
    """Encode with the widths that reach target_db at the fewest bytes (None when no
    combination in the window is predicted to, or none that was tried reached it).
    `base_stream`: the scene already encoded with cfg (its SH rest is kept as coded there)."""
    prep = _prepare(scene, ref, cfg, base_stream)
    best = None
    for _ in range(passes):
        table = measure(prep, ref, cfg, stage)
        found = _search(scene, ref, target_db, table, cfg, codec_options, stage, rounds)
        if found is None or (best is not None and len(found.data) >= len(best.data)):
            break
        best = found
        lowest = {a: min(table[a]) for a in ("positions", *SCALARS)}
        edge = (found.position_bits == lowest["positions"] > 4
                or any(found.bits[a] == lowest[a] > 1 for a in SCALARS))
        if not edge:
            break
        cfg = dataclasses.replace(cfg, position_bits=found.position_bits, bits=dict(found.bits))
    return best


def _search(scene, ref, target_db, table, cfg, codec_options, stage, rounds) -> Allocation | None:
    """Up to `rounds` verified encodes; the smallest that reaches target_db."""
    from gscodec.codecs import decode_bytes, get_codec

    goal, tried, best = target_db, set(), None
    for r in range(1, rounds + 1):
        pick = cheapest(table, goal)
        if pick is None:
            break
        widths, predicted = pick
        key = tuple(sorted(widths.items()))
        if key in tried:
            break
        tried.add(key)
        bits = {**cfg.bits, **{a: widths[a] for a in SCALARS}}
        stage(f"allocation encode {r}: positions {widths['positions']}, "
              + ", ".join(f"{a} {widths[a]}" for a in SCALARS))
        data = get_codec("ptc", **{**codec_options, "position_bits": widths["positions"], "bits": bits}).encode(scene)
        got = ref.psnr(decode_bytes(data, max_splats=None))
        if got >= target_db:
            if best is None or len(data) < len(best.data):
                best = Allocation(data, got, widths["positions"], bits, predicted, r)
            if got - target_db <= OVERSHOOT_DB:
                break
        goal += target_db - got + (0.02 if got < target_db else 0.0)  # the model's error here, corrected
    return best


__all__ = ["Allocation", "allocate", "cheapest", "interpolated", "measure"]
