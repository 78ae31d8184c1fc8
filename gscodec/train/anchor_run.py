"""A whole anchor-codec run: dataset -> Scaffold-GS + HAC training -> .gsz -> decode from the
file alone -> test-view metrics, an exported standard PLY (SH fit) and a metrics JSON.

The anchor counterpart of `gscodec.train.run.train_and_compress` (which dispatches here for
codecs whose `representation` is "anchors"). Besides the coded file it measures the same
trained model stored without entropy coding (`scaffold-raw`), the baseline the HAC paper
compares against, and the loss of the SH-fitted PLY export on the test views.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from gscodec.data.dataset import Dataset
from gscodec.scoring import score_dataset
from gscodec.utils.io import atomic_write_bytes, atomic_write_text


def train_and_compress_anchors(ds: Dataset, cfg, out_dir: str | Path, *, codec: str = "hac",
                               codec_config: dict | None = None, resume: bool = False, progress: bool = True,
                               export_sh_degree: int = 3, lpips_weights: str | None = None):
    """cfg: a ScaffoldConfig (or a dict of its fields). codec_config: `lambda_rate` (λ of the
    rate term in the training loss), `hac` (the entropy model's config overrides), the rest goes
    to the codec. The codec names what the run trains: its representation (`representation_class`,
    default ScaffoldModel), its entropy model (`model_class`, None: train without one) and the
    phases it adds (`training_phases`). LPIPS of the decoded views as train_and_compress's."""
    from gscodec.codecs import decode_bytes, get_codec
    from gscodec.data.images import save_image
    from gscodec.models.scaffold import ScaffoldModel
    from gscodec.models.scaffold_export import anchors_to_gaussians
    from gscodec.scene import save_ply
    from gscodec.train.run import (
        RunResult,
        _jsonable,
        _psnr_ssim,
        side_by_side,
        with_lpips,
    )
    from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer

    codec_config = dict(codec_config or {})
    lam = codec_config.pop("lambda_rate", None)
    model_over = codec_config.pop("hac", None)
    if isinstance(cfg, dict):
        cfg = ScaffoldConfig.from_dict(cfg)
    if lam is not None:
        import dataclasses

        cfg = dataclasses.replace(cfg, lambda_rate=float(lam)).validate()
    codec_obj = get_codec(codec, **codec_config)
    cls = type(codec_obj)  # it names the entropy model and any phases of its own
    model_class = getattr(cls, "model_class", None)
    rep = getattr(cls, "representation_class", ScaffoldModel)
    options = {**(codec_obj.model_options() if hasattr(codec_obj, "model_options") else {}), **(model_over or {})}
    em = (model_class.for_scene(len(ds.points.xyz), rep.coded_feat_dim(cfg.feat_dim), cfg.n_offsets, options)
          if model_class is not None else None)
    # the codec object, not its class: its options may shape the schedule (Predict-GS's ablations)
    phases = cfg.phases(codec_obj.training_phases(cfg) if hasattr(codec_obj, "training_phases") else ())
    view_scale = codec_obj.training_view_scale(cfg) if hasattr(codec_obj, "training_view_scale") else None
    if getattr(codec_obj, "trains_with_compression", False):
        cfg.check_rate_phase(codec, phases)  # before any output
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.is_file():
        trainer = ScaffoldTrainer.resume(ds, ckpt, out)
    else:
        trainer = ScaffoldTrainer(ds, cfg, out, entropy_model=em, phases=phases, model_class=rep,
                                  view_scale=view_scale)
    t0 = time.perf_counter()
    # ends with the trainer's own evaluation: the model as training sees it (attributes rounded to
    # its steps, float32 MLPs); the decoded file should match it up to the MLP precision and anchor grid
    as_trained = trainer.train(progress=progress)
    train_seconds = time.perf_counter() - t0
    scene = trainer.result_scene()
    # the training cameras' centres go with the stream (~12 B each), so a decoder without the
    # dataset fits the PLY export's SH colour over the views the MLPs were trained on
    centres = [[round(float(v), 5) for v in ds.cameras[i].center] for i in ds.train_indices]
    scene.decoder_config = {**scene.decoder_config, "view_positions": centres}

    save_trained(out, scene, codec, codec_config)  # `gscodec encode RUN/` codes it again (another λ)
    t0 = time.perf_counter()
    data = codec_obj.encode(scene)
    encode_seconds = time.perf_counter() - t0
    gsz = out / "scene.gsz"
    atomic_write_bytes(gsz, data)
    raw_bytes = len(get_codec("scaffold-raw").encode(scene))
    t0 = time.perf_counter()
    decoded = decode_bytes(gsz.read_bytes())  # from the file alone
    decode_seconds = time.perf_counter() - t0

    test = ds.test_indices
    raw_scene = scene.detach().to("cpu")
    uncompressed, _ = _psnr_ssim(score_dataset(raw_scene, ds, test))
    scored = score_dataset(decoded, ds, test, keep_images=True, lpips=True, lpips_weights=lpips_weights)
    compressed, decoded_renders = _psnr_ssim(scored)

    t0 = time.perf_counter()
    exported = anchors_to_gaussians(decoded, export_sh_degree)
    export_seconds = time.perf_counter() - t0
    ply = save_ply(exported, out / "scene.ply")
    export_scores, export_renders = _psnr_ssim(score_dataset(exported, ds, test, keep_images=True))
    metrics = {
        "dataset": ds.name or str(ds.root), "codec": codec, "representation": "anchors",
        "lambda_rate": trainer.cfg.lambda_rate, "train_iterations": trainer.step, "train_seconds": train_seconds,
        "anchors": len(scene), "decoded_anchors": len(decoded),
        "splats": int(decoded.offset_mask.sum()), "decoded_splats": int(decoded.offset_mask.sum()),
        "uncompressed": {**uncompressed, "bytes": raw_bytes, "what": "the same model stored by scaffold-raw"},
        "compressed": {**compressed, "bytes": len(data)},
        "quantized_in_training": {k: as_trained[k] for k in ("psnr", "ssim") if k in as_trained},
        "ratio": raw_bytes / len(data),
        "encode_seconds": encode_seconds, "decode_seconds": decode_seconds,
        "export": {**export_scores, "sh_degree": export_sh_degree, "gaussians": len(exported),
                   "bytes": ply.stat().st_size, "fit_loss_db": compressed["psnr"] - export_scores["psnr"],
                   "seconds": export_seconds},
        "codec_stats": _jsonable(getattr(codec_obj, "last_stats", {})),
        "device": str(trainer.device),
        "entropy_model": None if trainer.entropy_model is None else
        {"class": type(trainer.entropy_model).__name__, **trainer.entropy_model.describe(scene.anchors)},
    }
    with_lpips(metrics, scored)
    renders = out / "renders"
    for i, img in zip(test, decoded_renders):
        save_image(renders / f"test_{i:03d}.png", img)
    png = side_by_side(ds, test[0], [decoded_renders[0], export_renders[0]], renders / "comparison.png") if test else None
    atomic_write_text(out / "metrics.json", json.dumps(_jsonable(metrics), indent=2))
    return RunResult(metrics, out, png)


TRAINED = "trained_scene.pt"


def save_trained(out: Path, scene, codec: str, codec_config: dict) -> None:
    """The trained scene with its entropy model, for coding it again without retraining."""
    import torch

    from gscodec.utils.io import atomic_open

    with atomic_open(out / TRAINED, "wb") as f:
        torch.save({"format": "gscodec-trained-anchors", "version": 1, "codec": codec,
                    "codec_config": dict(codec_config), "scene": scene.detach().to("cpu")
                    if hasattr(scene, "detach") else scene, "entropy_model": scene.entropy_model}, f)


def load_trained(run: str | Path):
    """(codec name, codec options, scene with its entropy model) of a training run's folder."""
    import torch

    from gscodec.errors import InputError

    path = Path(run) / TRAINED
    if not path.is_file():
        raise InputError(f"{run}: not an anchor-codec training folder (no {TRAINED}; train with `gscodec train "
                         "--codec hac|hemgs|...` first)")
    try:
        st = torch.load(path, map_location="cpu", weights_only=False)
        ok = st.get("format") == "gscodec-trained-anchors"
    except Exception as e:  # noqa: BLE001 - a torn or foreign file is a user input problem
        raise InputError(f"{path}: not readable ({e})") from None
    if not ok:
        raise InputError(f"{path}: not a gscodec trained-anchors file")
    scene = st["scene"]
    scene.entropy_model = st["entropy_model"]
    return st["codec"], st["codec_config"], scene


SMALL_SCENE_FEAT_DIM = 32


def scaffold_config_for(iterations: int | None, overrides: dict | None = None, n_points: int | None = None):
    """The runs' Scaffold-GS config: HAC's 30k schedule scaled to `iterations`. Sized for the
    scene as HAC's grid is (entropy.hac.default_config): below SMALL_SCENE_POINTS initial points
    the anchor feature is 32-wide instead of 50. Why: on a small scene the networks are a fixed
    cost (Scaffold's MLPs and HAC's context MLP grow with the feature width; 47 KB of a 165 KB
    file on the beer capture at /8 with 50); 32 halves them and costs no PSNR there (#13's
    notes). An explicit feat_dim wins."""
    from gscodec.entropy.hac import SMALL_SCENE_POINTS
    from gscodec.train.scaffold import HAC_ITERATIONS, ScaffoldConfig

    over = dict(overrides or {})
    if n_points is not None and n_points < SMALL_SCENE_POINTS:
        over.setdefault("feat_dim", SMALL_SCENE_FEAT_DIM)
    return ScaffoldConfig.scaled(iterations or HAC_ITERATIONS, **over)


__all__ = ["load_trained", "save_trained", "scaffold_config_for", "train_and_compress_anchors"]
