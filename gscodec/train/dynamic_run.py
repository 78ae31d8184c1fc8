"""A whole dynamic run: dynamic dataset -> one SpacetimeTrainer per group of frames ->
SpacetimeSequence -> codec.encode -> .gsz -> decode from the file alone -> per-frame
test-view metrics, bitrate, renders and a metrics JSON. Used by `gscodec train` when the
codec codes spacetime scenes (dynamic-gscodec) and by bench/dynamic.py."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from gscodec.data.dataset import Dataset
from gscodec.errors import InputError
from gscodec.scoring import score_dataset
from gscodec.train.config import with_simulation
from gscodec.train.spacetime import SpacetimeTrainConfig, SpacetimeTrainer
from gscodec.utils.io import atomic_write_bytes, atomic_write_text
from gscodec.utils.rates import mbps


def raw_bytes(seq) -> int:
    """Uncompressed STG: every stored float (per-splat attributes and decoder) as float32."""
    return 4 * sum(sum(t.numel() for t in g.attributes().values()) + sum(t.numel() for t in g.decoder.values())
                   for g in seq.gofs)


def with_dynamic_simulation(cfg: SpacetimeTrainConfig, codec_obj, codec_config: dict) -> SpacetimeTrainConfig:
    """The codec's simulation (λ, bit widths) starting when densification stops, unless set."""
    if not getattr(codec_obj, "trains_with_compression", False) or not hasattr(codec_obj, "simulation_config"):
        return cfg
    return with_simulation(cfg, codec_obj.simulation_config(codec_config, cfg.simulation))


def per_frame_scores(scene, ds: Dataset, indices: list[int], *, keep: set[int] = frozenset(),
                     lpips_weights: str | None = None) -> tuple[list[dict], dict]:
    """[{frame, psnr, ssim[, lpips]}] averaged over the test views of each frame, and renders of
    the views in `keep` (index -> image): gscodec.scoring's per-frame rows. LPIPS when weights
    are given (argument or GSCODEC_LPIPS_WEIGHTS); without them the rows have no lpips key."""
    s = score_dataset(scene, ds, indices, lpips=True, lpips_weights=lpips_weights, keep_images=set(keep))
    return s.per_frame(), s.images


def _mean(rows: list[dict], key: str) -> float | None:
    return float(np.mean([r[key] for r in rows])) if rows else None


def train_gofs(ds: Dataset, cfg: SpacetimeTrainConfig, progress: bool = True) -> tuple[list, list[SpacetimeTrainer]]:
    """Train every GOF independently (the paper: "different groups processed independently")."""
    ranges = cfg.gof_ranges(ds.n_frames)
    trainers = []
    for k, frames in enumerate(ranges):
        t = SpacetimeTrainer(ds, cfg, frames)
        t.train(progress=progress, desc=f"GOF {k + 1}/{len(ranges)} (frames {frames[0]}-{frames[1] - 1})")
        trainers.append(t)
    return ranges, trainers


def train_and_compress_dynamic(ds: Dataset, cfg: SpacetimeTrainConfig, out_dir: str | Path, *,
                               codec: str = "dynamic-gscodec", codec_config: dict | None = None,
                               progress: bool = True, lpips_weights: str | None = None):
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.data.images import save_image
    from gscodec.scene.spacetime import SpacetimeSequence
    from gscodec.train.run import RunResult, _jsonable, side_by_side

    if not ds.dynamic:
        raise InputError(f"codec {codec!r} codes dynamic scenes, but {ds.name or ds.root} has no frames; use a "
                         "Neural 3D Video folder, a D-NeRF folder with times, or 'builtin-dynamic'")
    codec_config = dict(codec_config or {})
    codec_obj = get_codec(codec, **codec_config)
    cfg = with_dynamic_simulation(cfg.validate(), codec_obj, codec_config)  # refuses before any output
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "train_config.json", json.dumps(cfg.to_dict(), indent=2))
    t0 = time.perf_counter()
    ranges, trainers = train_gofs(ds, cfg, progress)
    train_seconds = time.perf_counter() - t0
    seq = SpacetimeSequence([t.export() for t in trainers], ds.fps, ds.n_frames).check()

    t0 = time.perf_counter()
    data = codec_obj.encode(seq)
    encode_seconds = time.perf_counter() - t0
    gsz = out / "scene.gsz"
    atomic_write_bytes(gsz, data)
    t0 = time.perf_counter()
    decoded = decode_bytes(gsz.read_bytes())  # from the file alone
    decode_seconds = time.perf_counter() - t0

    test = ds.test_indices
    show = [test[0], test[len(test) // 2], test[-1]] if test else []
    before, before_img = per_frame_scores(seq, ds, test, keep=set(show))
    after, after_img = per_frame_scores(decoded, ds, test, keep=set(show), lpips_weights=lpips_weights)
    raw = raw_bytes(seq)
    metrics = {
        "dataset": ds.name or str(ds.root), "codec": codec, "codec_config": codec_config, "motion": cfg.motion,
        "gof": cfg.gof or ds.n_frames, "gofs": [list(r) for r in ranges], "frames": ds.n_frames, "fps": ds.fps,
        "train_iterations_per_gof": cfg.iterations, "train_seconds": train_seconds, "splats": len(seq),
        "splats_per_gof": [len(g) for g in seq.gofs],
        "uncompressed": {"psnr": _mean(before, "psnr"), "ssim": _mean(before, "ssim"), "bytes": raw,
                         "mbps": mbps(raw, ds.n_frames, ds.fps)},
        "compressed": {"psnr": _mean(after, "psnr"), "ssim": _mean(after, "ssim"),
                       "lpips": _mean(after, "lpips") if after and "lpips" in after[0] else None, "bytes": len(data),
                       "mbps": mbps(len(data), ds.n_frames, ds.fps), "bytes_per_frame": len(data) / ds.n_frames},
        "ratio": raw / len(data), "encode_seconds": encode_seconds, "decode_seconds": decode_seconds,
        "per_frame": [{"frame": a["frame"], "psnr_uncompressed": a["psnr"], "psnr": b["psnr"], "ssim": b["ssim"],
                       **({"lpips": b["lpips"]} if "lpips" in b else {})} for a, b in zip(before, after)],
        "gof_scores": [t.history[-1] for t in trainers],
        "codec_stats": _jsonable(getattr(codec_obj, "last_stats", {})),
        "device": str(trainers[0].device),
    }
    renders = out / "renders"
    for i in show:
        save_image(renders / f"test_{i:04d}_frame{ds.cameras[i].frame:04d}.png", after_img[i])
    png = None
    if show:
        png = side_by_side(ds, show[len(show) // 2], [before_img[show[len(show) // 2]], after_img[show[len(show) // 2]]],
                           renders / "comparison.png")
    atomic_write_text(out / "metrics.json", json.dumps(_jsonable(metrics), indent=2))
    return RunResult(metrics, out, png)


__all__ = ["mbps", "per_frame_scores", "raw_bytes", "train_and_compress_dynamic", "train_gofs",
           "with_dynamic_simulation"]
