"""Evaluation: image metrics (PSNR, SSIM, LPIPS)."""
from gscodec.eval.metrics import (
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
