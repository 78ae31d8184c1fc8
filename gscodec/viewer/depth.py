"""Depth mode: the expected depth the project's CPU rasterizer renders (render_mode "RGB+ED")
at the browser's camera, as a colour-mapped image viser shows as the scene background.

Why on the server: viser's splat shader has no depth output, and this works without a GPU
(the browser keeps splatting RGB; depth frames are small images, rendered at a reduced size).
"""
from __future__ import annotations

import numpy as np

COLOUR_MAP = "turbo"
COVERED = 0.5  # a pixel counts as covered (its depth is meaningful) above this alpha
RANGE_QUANTILES = (0.02, 0.98)  # near / far of the colour scale over covered pixels: stray splats don't stretch it


def depth_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The render size for a viewport: its aspect, the longer side at most `max_side`."""
    width, height = max(int(width), 1), max(int(height), 1)
    f = min(1.0, max_side / max(width, height))
    return max(1, round(width * f)), max(1, round(height * f))


def composite(layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Several (depth [H,W], alpha [H,W]) renders of the same view (side-by-side copies) -> one:
    per pixel the layer that covers it most."""
    depths = np.stack([d for d, _ in layers])
    alphas = np.stack([a for _, a in layers])
    pick = alphas.argmax(0)[None]
    return np.take_along_axis(depths, pick, 0)[0], np.take_along_axis(alphas, pick, 0)[0]


def colourize(depth: np.ndarray, alpha: np.ndarray, background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """uint8 [H,W,3]: near red, far blue (turbo, scaled to this view's covered depths), blended
    with `background` by alpha."""
    import matplotlib

    depth, alpha = np.asarray(depth, np.float64), np.clip(np.asarray(alpha, np.float64), 0, 1)
    covered = alpha > COVERED
    if covered.any():
        near, far = np.quantile(depth[covered], RANGE_QUANTILES)
    else:
        near, far = 0.0, 1.0
    x = np.clip((depth - near) / max(far - near, 1e-9), 0, 1)
    rgb = matplotlib.colormaps[COLOUR_MAP](1.0 - x)[..., :3]
    out = rgb * alpha[..., None] + np.asarray(background, np.float64) * (1 - alpha[..., None])
    return np.ascontiguousarray((out * 255 + 0.5).astype(np.uint8))
