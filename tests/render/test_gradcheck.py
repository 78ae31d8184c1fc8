"""Autograd gradients of both CPU paths against finite differences (float64, tiny scenes
chosen away from the alpha/transmittance thresholds, where the renderer is smooth)."""
import pytest
import torch

from gscodec.render import rasterization


def _tiny_scene(sh: bool):
    g = torch.Generator().manual_seed(3)
    n = 3
    means = torch.tensor([[0.1, -0.05, 4.0], [-0.15, 0.1, 4.5], [0.0, 0.12, 5.0]], dtype=torch.float64)
    quats = torch.randn(n, 4, generator=g, dtype=torch.float64)
    scales = torch.tensor([[0.5, 0.4, 0.45], [0.45, 0.55, 0.4], [0.6, 0.5, 0.5]], dtype=torch.float64)
    opac = torch.tensor([0.5, 0.4, 0.6], dtype=torch.float64)
    if sh:
        colors = torch.randn(n, 4, 3, generator=g, dtype=torch.float64) * 0.3
    else:
        colors = torch.rand(n, 3, generator=g, dtype=torch.float64)
    vm = torch.eye(4, dtype=torch.float64)[None]
    K = torch.tensor([[[40.0, 0, 4.0], [0, 40.0, 4.0], [0, 0, 1]]], dtype=torch.float64)
    return means, quats, scales, opac, colors, vm, K


@pytest.mark.parametrize("backend", ["cpu_reference", "cpu"])
@pytest.mark.parametrize("sh", [False, True])
def test_gradcheck(backend, sh):
    means, quats, scales, opac, colors, vm, K = _tiny_scene(sh)
    bg = torch.tensor([[0.2, 0.3, 0.1]], dtype=torch.float64)

    def f(means, quats, scales, opac, colors):
        rc, ra, _ = rasterization(means, quats, scales, opac, colors, vm, K, 8, 8,
                                  sh_degree=1 if sh else None, backgrounds=bg,
                                  render_mode="RGB+D", backend=backend)
        return rc, ra

    inputs = tuple(t.clone().requires_grad_(True) for t in (means, quats, scales, opac, colors))
    rc, ra = f(*inputs)
    assert ra.min() > 0.5 and ra.max() < 0.99  # every pixel covered, far from T_MIN
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5,
                                      fast_mode=True)
