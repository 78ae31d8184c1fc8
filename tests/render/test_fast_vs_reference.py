"""The numba tile rasterizer reproduces the pure-torch reference: images and gradients."""
import pytest
import torch

from gscodec.data.cameras import orbit_cameras
from gscodec.render import camera_tensors, rasterization
from gscodec.scene.gaussian import GaussianScene


def _run(backend, scene, vm, K, w, h, mode, sh_degree, bg, aa=False, packed=True):
    params = [t.clone().requires_grad_(True)
              for t in (scene.means, scene.quats, scene.scales, scene.opacities, scene.sh)]
    rc, ra, meta = rasterization(*params, vm, K, w, h, sh_degree=sh_degree, backgrounds=bg,
                                 render_mode=mode, backend=backend, packed=packed,
                                 rasterize_mode="antialiased" if aa else "classic")
    meta["means2d"].retain_grad()
    wts = torch.linspace(-1, 1, rc.numel(), dtype=rc.dtype).reshape(rc.shape)
    ((rc * wts).sum() + (ra * ra).sum()).backward()
    return rc.detach(), ra.detach(), [p.grad for p in params], meta


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
@pytest.mark.parametrize("mode", ["RGB", "RGB+ED", "D"])
def test_fast_matches_reference(dtype, tol, mode):
    scene = GaussianScene.random(400, sh_degree=2, seed=5).to(dtype=dtype)
    cams = orbit_cameras(2, 2.5, width=40, height=28, fov_deg=60)
    vm, K = camera_tensors(cams, "cpu", dtype)
    bg = torch.tensor([[0.1, 0.2, 0.3], [0.5, 0.0, 1.0]], dtype=dtype) if mode != "D" else None
    a = _run("cpu", scene, vm, K, 40, 28, mode, 2, bg, aa=(mode == "RGB"))
    b = _run("cpu_reference", scene, vm, K, 40, 28, mode, 2, bg, aa=(mode == "RGB"))
    assert a[1].mean() > 0.1  # the scene really covers the images
    torch.testing.assert_close(a[0], b[0], atol=tol * 10, rtol=tol)
    torch.testing.assert_close(a[1], b[1], atol=tol * 10, rtol=tol)
    for ga, gb in zip(a[2], b[2]):
        if gb is None:  # SH coefficients are unused in depth-only mode
            assert ga is None and mode == "D"
            continue
        rel = (ga - gb).norm() / gb.norm().clamp_min(1e-12)
        assert rel < tol * 10, rel
    torch.testing.assert_close(a[3]["means2d"].grad, b[3]["means2d"].grad, atol=tol * 100, rtol=tol * 10)


def test_per_camera_colors_and_unpacked_meta():
    """colors [C,N,3] (network-decoded, no SH) and packed=False meta layout."""
    scene = GaussianScene.random(200, seed=6).to(dtype=torch.float64)
    cams = orbit_cameras(3, 2.5, width=24, height=24)
    vm, K = camera_tensors(cams, "cpu", torch.float64)
    cols = torch.rand(3, 200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    outs = []
    for backend in ("cpu", "cpu_reference"):
        rc, ra, meta = rasterization(scene.means, scene.quats, scene.scales, scene.opacities, cols,
                                     vm, K, 24, 24, packed=False, backend=backend)
        outs.append(rc)
        assert meta["radii"].shape == (3, 200, 2) and meta["means2d"].shape == (3, 200, 2)
        assert meta["depths"].shape == (3, 200) and meta["n_cameras"] == 3
    torch.testing.assert_close(outs[0], outs[1], atol=1e-9, rtol=1e-9)


def test_chunked_checkpointed_reference(monkeypatch):
    """Many pixel chunks (checkpointed in backward) give the same images and gradients."""
    import gscodec.render.cpu_reference as ref

    scene = GaussianScene.random(150, sh_degree=1, seed=8).to(dtype=torch.float64)
    vm, K = camera_tensors(orbit_cameras(1, 2.5, width=20, height=16, fov_deg=60), "cpu", torch.float64)
    bg = torch.tensor([[0.3, 0.2, 0.1]], dtype=torch.float64)
    whole = _run("cpu_reference", scene, vm, K, 20, 16, "RGB", 1, bg)
    monkeypatch.setattr(ref, "_CHUNK_ELEMS", 1000)
    chunked = _run("cpu_reference", scene, vm, K, 20, 16, "RGB", 1, bg)
    torch.testing.assert_close(chunked[0], whole[0])
    for ga, gb in zip(chunked[2], whole[2]):
        torch.testing.assert_close(ga, gb)
