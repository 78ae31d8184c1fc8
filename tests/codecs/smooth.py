"""A tiny scene whose attributes vary smoothly over a surface, as trained scenes' do, so the
neighbour-context coder (gscodec/coding/neighbour_context.py) wins on it (a random scene has
nothing for a neighbour to predict)."""
from __future__ import annotations

import torch

from gscodec.scene import GaussianScene


def smooth_scene(n: int = 400, degree: int = 0, seed: int = 0) -> GaussianScene:
    g = torch.Generator().manual_seed(seed)
    uv = torch.rand(n, 2, generator=g) * 4
    means = torch.stack([uv[:, 0], uv[:, 1], 0.3 * torch.sin(uv[:, 0]) * torch.cos(uv[:, 1])], 1)
    wave = lambda f, p: torch.sin(f * uv[:, 0] + p) * torch.cos(f * uv[:, 1] - p)  # noqa: E731
    noise = lambda c, s: s * torch.randn(n, c, generator=g)  # noqa: E731
    scales = torch.stack([wave(0.7, 0.0), wave(0.7, 0.5), wave(0.9, 1.0)], 1) - 4 + noise(3, 0.06)
    angle = wave(0.5, 0.3)
    quats = torch.stack([torch.cos(angle), torch.sin(angle), 0.2 * wave(0.6, 0.2), 0.1 * wave(0.4, 0.9)], 1)
    sh_dc = torch.stack([wave(0.8, 0.0), wave(0.8, 0.2), wave(0.8, 0.4)], 1) + noise(3, 0.06)
    k = (degree + 1) ** 2 - 1
    return GaussianScene(means=means, quats=quats, log_scales=scales, opacity_logits=2 + wave(0.6, 0.7),
                         sh_dc=sh_dc, sh_rest=0.05 * torch.randn(n, k, 3, generator=g))
