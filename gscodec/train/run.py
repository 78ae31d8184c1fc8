"""A whole run: dataset -> training -> codec.encode -> .gsz -> decode from the file alone ->
test-view metrics, renders and a metrics JSON. Used by `gscodec train` and `gscodec demo`."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gscodec.data.dataset import Dataset
from gscodec.scene import save_ply
from gscodec.scoring import score_dataset
from gscodec.train.config import TrainConfig, with_simulation
from gscodec.train.trainer import Trainer
from gscodec.utils.io import atomic_write_bytes, atomic_write_text


@dataclass
class RunResult:
    metrics: dict
    out_dir: Path
    comparison_png: Path | None


def side_by_side(ds: Dataset, index: int, renders: list[torch.Tensor], path: Path) -> Path:
    """One PNG: ground truth | each of `renders` (images of camera `index`)."""
    from gscodec.data.images import save_image

    tiles = [ds.image(index), *renders]
    gap = torch.ones(tiles[0].shape[0], 2, 3)
    row = torch.cat([t for tile in tiles for t in (tile, gap)][:-1], dim=1)
    save_image(path, row)
    return path


def train_and_compress(ds: Dataset, train_cfg: TrainConfig, out_dir: str | Path, *, codec: str = "ptc",
                       codec_config: dict | None = None, resume: bool = False,
                       progress: bool = True, lpips_weights: str | None = None) -> RunResult:
    """LPIPS of the decoded test views with `lpips_weights` (else GSCODEC_LPIPS_WEIGHTS;
    without any, metrics['lpips'] is None and 'lpips_note' says why)."""
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.data.images import save_image

    codec_obj = get_codec(codec, **(codec_config or {}))
    if getattr(codec_obj, "representation", "gaussians") == "anchors":
        from gscodec.train.anchor_run import (
            scaffold_config_for,
            train_and_compress_anchors,
        )

        cfg = scaffold_config_for(train_cfg.iterations, n_points=len(ds.points.xyz))
        return train_and_compress_anchors(ds, cfg, out_dir, codec=codec,
                                          codec_config=codec_config, resume=resume, progress=progress,
                                          export_sh_degree=train_cfg.sh_degree, lpips_weights=lpips_weights)
    train_cfg = with_codec_simulation(train_cfg, codec_obj, codec_config or {})  # refuses before any output
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    trainer = Trainer.resume(ds, ckpt, out) if resume and ckpt.is_file() else Trainer(ds, train_cfg, out)
    t0 = time.perf_counter()
    trainer.train(progress=progress)
    train_seconds = time.perf_counter() - t0
    scene = trainer.scene_for_eval(simulated=False)  # carries the simulation's entropy model, if any
    ply_path = save_ply(scene, out / "scene.ply")

    t0 = time.perf_counter()
    data = codec_obj.encode(scene)
    encode_seconds = time.perf_counter() - t0
    gsz_path = out / "scene.gsz"
    atomic_write_bytes(gsz_path, data)

    t0 = time.perf_counter()
    decoded = decode_bytes(gsz_path.read_bytes())  # from the file alone
    decode_seconds = time.perf_counter() - t0

    test = ds.test_indices
    uncompressed, uncompressed_renders = _psnr_ssim(score_dataset(scene, ds, test, keep_images=True))
    scored = score_dataset(decoded, ds, test, keep_images=True, lpips=True, lpips_weights=lpips_weights)
    compressed, decoded_renders = _psnr_ssim(scored)
    metrics = {
        "dataset": ds.name or str(ds.root), "codec": codec, "codec_config": codec_config or {},
        "train_iterations": trainer.step,
        "train_seconds": train_seconds, "splats": len(scene), "decoded_splats": len(decoded),
        "uncompressed": {**uncompressed, "bytes": ply_path.stat().st_size},
        "compressed": {**compressed, "bytes": len(data)},
        "ratio": ply_path.stat().st_size / len(data),
        "encode_seconds": encode_seconds, "decode_seconds": decode_seconds,
        "device": str(trainer.device),
        "codec_stats": _jsonable(getattr(codec_obj, "last_stats", {})),
    }
    if trainer.history and trainer.history[-1].get("estimated_bits"):
        metrics["estimated_bits"] = trainer.history[-1]["estimated_bits"]
    with_lpips(metrics, scored)
    renders = out / "renders"
    for i, img in zip(test, decoded_renders):
        save_image(renders / f"test_{i:03d}.png", img)
    png = (side_by_side(ds, test[0], [uncompressed_renders[0], decoded_renders[0]], renders / "comparison.png")
           if test else None)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    return RunResult(metrics, out, png)


def _psnr_ssim(scores) -> tuple[dict, list]:
    """A run's {'psnr', 'ssim'} of one scored set of views, and its kept renders."""
    m = scores.mean()
    return {"psnr": m["psnr"], "ssim": m["ssim"]}, scores.kept_images()


def with_lpips(metrics: dict, scores) -> dict:
    """A run's metrics get the decoded views' LPIPS (None, with 'lpips_note', without weights)."""
    m = scores.mean()
    if m["lpips_note"]:
        metrics["lpips_note"] = m["lpips_note"]
    metrics["lpips"] = m["lpips"]
    return metrics


def with_codec_simulation(cfg: TrainConfig, codec_obj, codec_config: dict) -> TrainConfig:
    """A codec that trains with compression (e.g. static-gscodec) gets its compression
    simulation switched on, starting when densification stops (the strategy's refine_stop for
    this many iterations, gscodec.train.schedule), unless the config sets the start. A config
    where it would never run is refused here, before any training."""
    if not getattr(codec_obj, "trains_with_compression", False) or not hasattr(codec_obj, "simulation_config"):
        return cfg
    return with_simulation(cfg, codec_obj.simulation_config(codec_config, cfg.simulation))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj if isinstance(obj, (int, float, str, bool)) or obj is None else str(obj)


__all__ = ["RunResult", "side_by_side", "train_and_compress", "with_codec_simulation"]
