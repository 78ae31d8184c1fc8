"""Fixtures for the renderer tests: small cameras and a helper that renders a raw Gaussian set."""
import pytest
import torch

from gscodec.render import rasterization


def pinhole(width=32, height=32, f=40.0, cx=None, cy=None, viewmat=None, dtype=torch.float64):
    """(viewmats [1,4,4], Ks [1,3,3]); default camera at the origin looking down +z."""
    cx = width / 2 - 0.5 if cx is None else cx   # principal point on a pixel centre
    cy = height / 2 - 0.5 if cy is None else cy
    K = torch.tensor([[f, 0, cx], [0, f, cy], [0, 0, 1]], dtype=dtype)[None]
    vm = (torch.eye(4, dtype=dtype) if viewmat is None else viewmat.to(dtype))[None]
    return vm, K


@pytest.fixture
def raster():
    """raster(means, scales, opacities, colors, backend, **kw) with identity rotations."""
    def run(means, scales, opacities, colors, backend="cpu", width=32, height=32, f=40.0,
            viewmat=None, **kw):
        means = torch.as_tensor(means, dtype=torch.float64).reshape(-1, 3)
        n = means.shape[0]
        quats = torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64).repeat(n, 1)
        scales = torch.as_tensor(scales, dtype=torch.float64)
        scales = (scales.reshape(1, 1) if scales.numel() == 1 else scales.reshape(n, -1 if n else 3)).expand(n, 3).contiguous()
        opac = torch.as_tensor(opacities, dtype=torch.float64).reshape(n)
        colors = torch.as_tensor(colors, dtype=torch.float64)
        vm, K = pinhole(width, height, f, viewmat=viewmat)
        return rasterization(means, quats, scales, opac, colors, vm, K, width, height,
                             backend=backend, **kw)
    return run
