"""Attributes in the form they are quantized in, and back.

Quantization happens where error matters: opacity in [0,1] (not as a logit), scales as
log-scales, SH as stored, and quaternions in "smallest three" form: normalize, flip the sign so
the largest-magnitude component is positive (q and -q are the same rotation), store the index
of that component (2 bits) and the other three, which lie in [-1/sqrt(2), 1/sqrt(2)]; the
decoder restores the largest from the unit norm.
"""
from __future__ import annotations

import numpy as np
import torch

from gscodec.scene import GaussianScene

OPACITY_EPS = 1e-6


def to_channels(scene: GaussianScene) -> dict[str, np.ndarray]:
    """float32 [N, C] arrays, one per attribute, in the codec's working form."""
    s = scene.detach().to("cpu", torch.float32)
    small, index = smallest_three(s.quats)
    n = len(s)
    return {
        "scales": s.log_scales.numpy(),
        "quats": small,
        "quat_index": index[:, None].astype(np.int32),
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
        quats=t(from_smallest_three(ch["quats"], ch["quat_index"][:, 0])),
        log_scales=t(ch["scales"]),
        opacity_logits=t(np.log(opacity / (1 - opacity))),
        sh_dc=t(ch["sh_dc"]),
        sh_rest=t(rest).reshape(n, k, 3),
    )


def smallest_three(quats: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """([N,3] float32 components other than the largest, [N] index of the largest)."""
    q = torch.nn.functional.normalize(quats.detach().cpu().float(), dim=-1)
    index = q.abs().argmax(1)
    sign = torch.sign(q.gather(1, index[:, None]))
    q = q * torch.where(sign == 0, torch.ones_like(sign), sign)
    keep = torch.ones_like(q, dtype=torch.bool)
    keep[torch.arange(len(q)), index] = False
    return q[keep].reshape(len(q), 3).numpy(), index.numpy()


def from_smallest_three(small: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Inverse of smallest_three: unit quaternions [N,4] (w, x, y, z)."""
    n = len(small)
    small = np.asarray(small, np.float64)
    largest = np.sqrt(np.clip(1.0 - (small ** 2).sum(1), 0.0, 1.0))
    q = np.empty((n, 4), np.float64)
    slots = np.arange(4)[None, :] != np.asarray(index)[:, None]
    q[slots] = small.reshape(-1)
    q[~slots] = largest
    return q.astype(np.float32)
