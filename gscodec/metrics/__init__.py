"""Image and rate-distortion metrics: PSNR, SSIM, LPIPS and BD-rate.

A leaf package: it imports nothing of gscodec but `gscodec.errors` (checked by
tests/metrics/test_leaf.py), so codecs, training, models and evaluation all use it without
import cycles. Scoring a scene's renders is gscodec.scoring's job, one layer up.
"""
from gscodec.metrics.bdrate import BDResult, bd_psnr, bd_rate, check_curve
from gscodec.metrics.image import mse, psnr, psnr_from_mse, ssim, ssim_map
from gscodec.metrics.perceptual import (
    LPIPS_ENV,
    LPIPSAlex,
    LpipsUnavailable,
    image_metrics,
    load_lpips,
    lpips,
    lpips_weights_path,
)

__all__ = ["BDResult", "LPIPSAlex", "LPIPS_ENV", "LpipsUnavailable", "bd_psnr", "bd_rate", "check_curve",
           "image_metrics", "load_lpips", "lpips", "lpips_weights_path", "mse", "psnr", "psnr_from_mse", "ssim",
           "ssim_map"]
