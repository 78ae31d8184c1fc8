"""Attributes in the form they are quantized in, and back.

Quantization happens where error matters: opacity in [0,1] (not as a logit), quaternions
normalized with w >= 0 (q and -q are the same rotation), scales as log-scales, SH as stored.
"""
from __future__ import annotations

import numpy as np
import torch

from gscodec.scene import GaussianScene

OPACITY_EPS = 1e-6


def to_channels(scene: GaussianScene) -> dict[str, np.ndarray]:
    """float32 [N, C] arrays, one per attribute, in the codec's working form."""
    s = scene.detach().to("cpu", torch.float32)
    q = torch.nn.functional.normalize(s.quats, dim=-1)
    q = torch.where(q[:, :1] < 0, -q, q)
    n = len(s)
    return {
        "scales": s.log_scales.numpy(),
        "quats": q.numpy(),
        "opacity": torch.sigmoid(s.opacity_logits)[:, None].numpy(),
        "sh_dc": s.sh_dc.numpy(),
        "sh_rest": s.sh_rest.reshape(n, s.sh_rest.shape[1] * 3).numpy(),
    }


def from_channels(means: np.ndarray, ch: dict[str, np.ndarray], sh_degree: int) -> GaussianScene:
    n = len(means)
    k = (sh_degree + 1) ** 2 - 1
    opacity = np.clip(ch["opacity"][:, 0].astype(np.float64), OPACITY_EPS, 1 - OPACITY_EPS)
    rest = ch.get("sh_rest")
    if rest is None or k == 0:
        rest = np.zeros((n, k * 3), np.float32)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return GaussianScene(
        means=t(means),
        quats=t(ch["quats"]),
        log_scales=t(ch["scales"]),
        opacity_logits=t(np.log(opacity / (1 - opacity))),
        sh_dc=t(ch["sh_dc"]),
        sh_rest=t(rest).reshape(n, k, 3),
    )
