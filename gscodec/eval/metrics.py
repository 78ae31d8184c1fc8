"""Old import path of the image metrics, kept for compatibility: they live in gscodec.metrics."""
from gscodec.metrics.image import _check_pair, psnr, ssim, ssim_map  # noqa: F401
from gscodec.metrics.perceptual import (  # noqa: F401
    LPIPS_ENV,
    LPIPSAlex,
    LpipsUnavailable,
    _load_lpips,
    _normalise_keys,
    image_metrics,
    load_lpips,
    lpips,
    lpips_weights_path,
)
