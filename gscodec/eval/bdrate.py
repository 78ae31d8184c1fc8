"""Old import path of BD-rate / BD-PSNR, kept for compatibility: they live in gscodec.metrics."""
from gscodec.metrics.bdrate import BDResult, bd_psnr, bd_rate, check_curve  # noqa: F401

__all__ = ["BDResult", "bd_psnr", "bd_rate", "check_curve"]
