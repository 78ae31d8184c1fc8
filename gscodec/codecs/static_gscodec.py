"""Static GSCodec (GSCodec Studio V-A): 3DGS trained with compression simulation, then coded.

The scene must carry the `CompressionSim` it was trained with (`scene.entropy_model`, as
`Trainer.scene_for_eval` returns it). Encoding:
  prune (opacity < 1/255) -> positions (grid + Morton + delta, as ptc) ->
  each simulated attribute -> its integer symbols on the training grid ->
    entropy-constrained ones coded with their learned distribution (factorized tables or
    hash-grid Gaussians; the model's weights travel in the stream), unless a post-training
    model codes them smaller (the choice is recorded per section; `last_stats` has both);
    the others with the best post-training method ->
  SH rest: the mask as bits, then a k-means codebook + labels for the splats that keep it.
The encoder rebuilds the entropy models from the bytes it stores and codes with those, so
encoder and decoder compute the coder's tables / Gaussian parameters from the same weights,
in float64 on the CPU (docs/determinism.md).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from gscodec.codecs.base import StreamCodec
from gscodec.codecs.learned_attributes import (
    bits_needed,
    build_sim,
    decode_grid,
    encode_grid,
    grid_symbols,
    load_entropy,
    model_of,
    refit_models,
    side_bytes,
    store_entropy,
)
from gscodec.codecs.ptc.config import make_config
from gscodec.codecs.ptc.prune import PruneConfig, prune
from gscodec.codecs.registry import register_codec
from gscodec.coding import ans, container
from gscodec.coding.container import Section
from gscodec.coding.schema import StaticHeader
from gscodec.coding.positions import (
    decode_positions,
    dequantize_positions,
    encode_positions,
    quantize_positions,
)
from gscodec.coding.stream import header_fields, need, need_section
from gscodec.coding.symbols import (
    decode_best,
    dequantize_uniform,
    encode_best,
    quantize_uniform,
)
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene import GaussianScene

CODEC_VERSION = 1
ATTRS = ("quats", "log_scales", "opacity_logits", "sh_dc")
CHANNELS = {"quats": 4, "log_scales": 3, "opacity_logits": 1, "sh_dc": 3}
FALLBACK_BITS = 8  # attributes training did not quantize


def _load_entropy(sim_cfg: dict, meta: dict, sections: dict, only=None):
    """The CompressionSim's entropy models rebuilt from the stream (decoder and encoder): those
    named in `only` (default all), the models the stream's sections code with."""
    from gscodec.simulate.sim import CompressionSim, SimConfig

    return load_entropy(build_sim(CompressionSim, SimConfig, sim_cfg), meta, sections, only=only)


@register_codec
class StaticGSCodec(StreamCodec):
    name = "static-gscodec"
    header_schema = StaticHeader
    version = CODEC_VERSION
    trains_with_compression = True

    def __init__(self, quality: int = 3, lambda_rate: float | None = None, learned_only: bool = False):
        """quality 1..5 sets position bits and the SH codebook (ptc's ladder); lambda_rate is
        the training-time rate weight (read by the trainer via `simulation_config`);
        learned_only codes constrained attributes with the learned model even where a
        post-training model would be smaller (the paper's rule, for ablations)."""
        self.ptc = make_config("uniform", quality)
        self.lambda_rate = lambda_rate
        self.learned_only = bool(learned_only)
        self.last_stats: dict = {}

    @staticmethod
    def simulation_config(codec_config: dict, base: dict | None = None) -> dict:
        """The TrainConfig.simulation dict this codec wants: λ from the codec config, and the
        simulated bit widths from its quality (ptc's ladder: q1 5 bits .. q3 7 .. q4 8 .. q5 10)
        unless the simulation config sets them. Why the ladder and not the paper's fixed 8 bits:
        with quantization-aware training 7 bits cost nothing measurable on our scenes and save
        ~11% (bench/results/static_ablation/report.md), so quality means the same for every codec."""
        sim = dict(base or {})
        if codec_config.get("lambda_rate") is not None:
            sim["lambda_rate"] = float(codec_config["lambda_rate"])
        if "bits" not in sim:
            b = make_config("uniform", int(codec_config.get("quality", 3))).bits["quats"]
            sim["bits"] = {name: b for name in ATTRS}
        return sim

    # ---- encode ----------------------------------------------------------------------
    def encode(self, scene: GaussianScene) -> bytes:
        from gscodec.simulate.sim import to_channels

        t0 = time.perf_counter()
        sim = scene.entropy_model
        if sim is None or not hasattr(sim, "quantizers") or not bool(sim.started):
            raise InputError("static-gscodec needs a scene trained with compression simulation "
                             "(`gscodec train DATASET --codec static-gscodec`); use codec 'ptc' for a plain .ply")
        cfg = self.ptc
        scene.check()
        scene, prune_stats = prune(scene.detach().to("cpu"), PruneConfig())
        n, degree = len(scene), scene.sh_degree
        qpos, plo, phi = quantize_positions(scene.means.numpy(), cfg.position_bits)
        pos_bytes, order = encode_positions(qpos, cfg.position_bits)
        xyz = dequantize_positions(qpos[order], cfg.position_bits, plo, phi)  # what the decoder will have
        with torch.no_grad():
            ch = {k: v[torch.from_numpy(order)] for k, v in to_channels(scene.__dict__).items()}

        header = {"codec": self.name, "codec_version": CODEC_VERSION, "count": n, "sh_degree": degree,
                  "bounds": [plo.tolist(), phi.tolist()], "position_bits": cfg.position_bits,
                  "sim": sim.cfg.to_dict(), "attributes": {}, "prune": prune_stats}
        symbols = {a: grid_symbols(sim, a, ch[a]) for a in ATTRS if a in sim.quantizers}  # one pass: refit and coding
        models, refit = refit_models(sim, symbols)
        ent_sections, ent_meta = store_entropy(models, float_dtype="float16")  # half the side cost (#21 item 8)
        stored = _load_entropy(header["sim"], ent_meta, {s.name: s for s in ent_sections})
        model_bytes = {a: side_bytes(a, ent_sections, ent_meta) for a in ATTRS}
        sections, stats = [Section("positions", "morton-delta", pos_bytes)], {}
        for name in ATTRS:
            sec, entry, st = self._encode_attribute(name, ch[name], sim, stored, xyz, n, model_bytes[name],
                                                    symbols.get(name))
            sections.append(sec)
            header["attributes"][name] = entry
            stats[name] = {**st, **refit.get(name, {})}
        learned = {a for a, st in stats.items() if st["method"].startswith("learned-")}
        header["entropy"] = {a: m for a, m in ent_meta.items() if a in learned}  # only the models a section uses
        sections += [s for s in ent_sections if s.name.split(".")[0] in learned]
        if degree > 0:
            sections += self._encode_sh_rest(ch["sh_rest"].numpy(), header)
        data = container.pack(header, sections)
        self.last_stats = {"encode_seconds": time.perf_counter() - t0, "prune": prune_stats, "bytes": len(data),
                           "attributes": stats}
        return data

    def _encode_attribute(self, name, x: torch.Tensor, sim, stored, xyz, n, model_bytes: int = 0, symbols=None):
        if name not in sim.quantizers:  # training left it unquantized: plain uniform quantization
            q, lo, hi = quantize_uniform(x.numpy(), FALLBACK_BITS)
            data, method = encode_best(q, FALLBACK_BITS)[:2]
            return (Section(name, method, data), {"mode": "uniform", "lo": lo.tolist(), "hi": hi.tolist()},
                    {"method": method, "bytes": len(data)})
        return encode_grid(sim, name, x, model_of(stored, name), xyz, name,
                           learned_only=self.learned_only, model_bytes=model_bytes, symbols=symbols)

    def _encode_sh_rest(self, rest: np.ndarray, header: dict) -> list[Section]:
        from gscodec.codecs.ptc.codec import _vector_quantize

        active = np.abs(rest).max(1) > 0 if len(rest) else np.zeros(0, bool)
        p = float(np.float32(active.mean())) if len(rest) else 0.5
        sections = [Section("sh_mask", "ans-bits", ans.encode_bits(active.astype(np.uint8), p))]
        sh = {"mask_p": p, "active": int(active.sum())}
        if active.any():
            codebook, labels = _vector_quantize(rest[active], self.ptc)
            sh["codebook_size"] = len(codebook)
            lb = bits_needed(len(codebook) - 1)
            data, method = encode_best(labels[:, None].astype(np.int64), lb)[:2]
            sections.append(Section("sh_labels", method, data))
            qc, lo, hi = quantize_uniform(codebook, self.ptc.codebook_bits)
            sh.update(codebook_lo=lo.tolist(), codebook_hi=hi.tolist(), codebook_bits=self.ptc.codebook_bits)
            data, method = encode_best(qc, self.ptc.codebook_bits)[:2]
            sections.append(Section("sh_codebook", method, data))
        header["sh_rest"] = sh
        return sections


    # ---- decode ----------------------------------------------------------------------
    @classmethod
    def decode_stream(cls, data: bytes) -> GaussianScene:
        header, sections = cls.unpack(data)
        with header_fields(cls.name):
            n, degree, pbits = int(header["count"]), int(header["sh_degree"]), int(header["position_bits"])
            plo, phi = (np.asarray(b, np.float32) for b in header["bounds"])
            attrs = header["attributes"]
            sim_cfg, ent_meta = header["sim"], header["entropy"]
        if not 0 <= degree <= 3 or n < 0 or not 4 <= pbits <= 21:
            raise CorruptStreamError("static-gscodec header has an impossible count, SH degree or position bits")
        qpos = decode_positions(need(sections, "positions"), max_points=n)
        if qpos.shape != (n, 3):
            raise CorruptStreamError(f"positions decoded to {len(qpos)} points, header says {n}")
        xyz = dequantize_positions(qpos, pbits, plo, phi)
        learned = {a for a in ATTRS if a in sections and sections[a].method.startswith("learned-")}
        stored = _load_entropy(sim_cfg, ent_meta, sections, learned)  # streams before 2026-12 hold every model
        ch = {}
        for name in ATTRS:
            ch[name] = cls._decode_attribute(name, attrs.get(name), need_section(sections, name), stored, xyz, n)
        k_rest = (degree + 1) ** 2 - 1
        rest = cls._decode_sh_rest(header.get("sh_rest"), sections, n, 3 * k_rest) if k_rest else np.zeros((n, 0))
        q = ch["quats"]
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        return GaussianScene(means=t(xyz), quats=t(q), log_scales=t(ch["log_scales"]),
                             opacity_logits=t(ch["opacity_logits"][:, 0]), sh_dc=t(ch["sh_dc"]),
                             sh_rest=t(rest).reshape(n, k_rest, 3))

    @staticmethod
    def _decode_attribute(name, entry, sec, stored, xyz, n) -> np.ndarray:
        c = CHANNELS[name]
        if isinstance(entry, dict) and entry.get("mode") == "uniform":
            try:
                lo, hi = np.asarray(entry["lo"], np.float32), np.asarray(entry["hi"], np.float32)
            except (KeyError, TypeError, ValueError) as e:
                raise CorruptStreamError(f"header entry of {name!r} is malformed ({e})") from None
            return dequantize_uniform(decode_best(sec.data, sec.method, n, channels=c), FALLBACK_BITS, lo, hi)
        model = model_of(stored, name)
        return decode_grid(name, entry, sec, model, xyz, n, c)

    @staticmethod
    def _decode_sh_rest(sh: dict | None, sections: dict, n: int, d: int) -> np.ndarray:
        if not isinstance(sh, dict):
            raise CorruptStreamError("header lacks the SH rest description")
        try:
            p, n_active = float(sh["mask_p"]), int(sh["active"])
            active = ans.decode_bits(need(sections, "sh_mask"), p, n).astype(bool)
            rest = np.zeros((n, d), np.float32)
            if int(active.sum()) != n_active:
                raise CorruptStreamError("SH mask does not match the header's count of active splats")
            if n_active:
                k = int(sh["codebook_size"])
                if not 1 <= k <= 1 << 20:
                    raise CorruptStreamError(f"codebook size {k} is out of range")
                sec = need_section(sections, "sh_labels")
                labels = decode_best(sec.data, sec.method, n_active, channels=1)[:, 0]
                sec = need_section(sections, "sh_codebook")
                qc = decode_best(sec.data, sec.method, k, channels=d)
                if qc.shape != (k, d) or labels.min() < 0 or labels.max() >= k:
                    raise CorruptStreamError("SH codebook or labels are inconsistent")
                codebook = dequantize_uniform(qc, int(sh["codebook_bits"]), np.asarray(sh["codebook_lo"], np.float32),
                                              np.asarray(sh["codebook_hi"], np.float32))
                rest[active] = codebook[labels]
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptStreamError(f"SH rest description is malformed ({e})") from None
        return rest
