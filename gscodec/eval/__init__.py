"""Evaluation: `gscodec eval`, `gscodec bench` and `gscodec report` (the metrics themselves are
gscodec.metrics, re-exported here for compatibility)."""
from gscodec.metrics import (
    LPIPSAlex,
    LpipsUnavailable,
    image_metrics,
    load_lpips,
    lpips,
    psnr,
    ssim,
    ssim_map,
)

__all__ = ["LPIPSAlex", "LpipsUnavailable", "image_metrics", "load_lpips", "lpips", "psnr",
           "ssim", "ssim_map"]
