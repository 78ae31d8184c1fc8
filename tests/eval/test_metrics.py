import math

import numpy as np
import pytest
import torch
from scipy.ndimage import correlate

from gscodec.errors import GscodecError, InputError
from gscodec.eval import LPIPSAlex, LpipsUnavailable, image_metrics, lpips, psnr, ssim


def _img(seed=0, shape=(32, 40, 3)):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(shape[0] // 4, shape[1] // 4, 3, generator=g)
    return base.repeat_interleave(4, 0).repeat_interleave(4, 1)  # some structure, not pure noise


def test_psnr():
    x = _img()
    assert psnr(x, x) == math.inf
    noise = torch.full_like(x, 0.05) * torch.where(torch.rand_like(x) > 0.5, 1.0, -1.0)
    assert psnr(x + noise, x) == pytest.approx(10 * math.log10(1 / 0.05 ** 2), abs=1e-4)
    assert psnr(x * 255, (x + noise) * 255, max_val=255.0) == pytest.approx(26.0206, abs=1e-3)
    with pytest.raises(InputError):
        psnr(x, x[:-1])


def _ssim_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Independent SSIM: scipy correlation with a 2-D Gaussian, zero padding ('same')."""
    r = np.arange(11) - 5.0
    g = np.exp(-r ** 2 / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    out = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        f = lambda t: correlate(t, w, mode="constant", cval=0.0)  # noqa: E731
        mx, my = f(x), f(y)
        vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        out.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(np.mean(out))


def test_ssim_values():
    x = _img()
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-6)
    g = torch.Generator().manual_seed(1)
    vals = [float(ssim((x + s * torch.randn(x.shape, generator=g)).clamp(0, 1), x)) for s in (0.02, 0.1, 0.3)]
    assert 1 > vals[0] > vals[1] > vals[2]
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert float(ssim(y, x)) == pytest.approx(_ssim_reference(y.numpy(), x.numpy()), abs=1e-4)
    assert float(ssim(y.double(), x.double())) == pytest.approx(_ssim_reference(y.numpy(), x.numpy()), abs=1e-9)


def test_ssim_batch_and_grad():
    x, y = _img(0), _img(1)
    batch = float(ssim(torch.stack([x, x]), torch.stack([y, y])))
    assert batch == pytest.approx(float(ssim(x, y)), abs=1e-6)
    p = y.clone().requires_grad_(True)
    loss = 1 - ssim(p, x)
    loss.backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    with pytest.raises(InputError, match="channels-last"):
        ssim(x.permute(2, 0, 1), y.permute(2, 0, 1))


def test_lpips_unavailable(monkeypatch):
    monkeypatch.delenv("GSCODEC_LPIPS_WEIGHTS", raising=False)
    x = _img()
    with pytest.raises(LpipsUnavailable) as e:
        lpips(x, x)
    assert str(e.value) == "LPIPS skipped: no weights (set GSCODEC_LPIPS_WEIGHTS=/path/to/alex.pth)"
    assert issubclass(LpipsUnavailable, GscodecError)
    m = image_metrics(x, x)
    assert m["psnr"] == math.inf and m["ssim"] == pytest.approx(1.0) and m["lpips"] is None
    monkeypatch.setenv("GSCODEC_LPIPS_WEIGHTS", "/nonexistent/alex.pth")
    with pytest.raises(LpipsUnavailable, match="not found"):
        lpips(x, x)


def test_lpips_network_random_weights(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = LPIPSAlex()
    for p in net.parameters():  # lin weights are non-negative in real LPIPS
        p.data = p.data.abs() if p.dim() == 4 and p.shape[2] == 1 else p.data
    path = tmp_path / "alex.pth"
    torch.save(net.state_dict(), path)
    x, y = _img(0, (64, 64, 3)), _img(1, (64, 64, 3))
    d1 = lpips(x, y, weights=path)
    monkeypatch.setenv("GSCODEC_LPIPS_WEIGHTS", str(path))
    d2 = lpips(x, y)
    assert isinstance(d1, float) and d1 == d2 and d1 > 0 and lpips(x, x) == 0.0
    out = net(torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1)
    assert out.shape == (2,)
    assert image_metrics(x, y)["lpips"] == d1
    # torchvision-style backbone keys + lpips lin file, joined with os.pathsep
    sd = net.state_dict()
    idx = {1: 0, 2: 3, 3: 6, 4: 8, 5: 10}
    tv = {f"features.{idx[int(k.split('.')[1][5:])]}.{k.split('.')[-1]}": v
          for k, v in sd.items() if k.startswith("net.")}
    lin = {k: v for k, v in sd.items() if k.startswith("lin")}
    torch.save(tv, tmp_path / "tv.pth"), torch.save(lin, tmp_path / "lin.pth")
    import os
    assert lpips(x, y, weights=f"{tmp_path / 'tv.pth'}{os.pathsep}{tmp_path / 'lin.pth'}") == pytest.approx(d1)
    torch.save(lin, tmp_path / "partial.pth")
    with pytest.raises(InputError, match="missing"):
        lpips(x, y, weights=tmp_path / "partial.pth")


def test_lpips_of_images_too_small_for_alexnet_is_unavailable_not_a_crash(tmp_path):
    path = tmp_path / "alex.pth"
    torch.save(LPIPSAlex().state_dict(), path)
    assert math.isfinite(lpips(_img(0, (32, 40, 3)), _img(1, (32, 40, 3)), weights=path))
    with pytest.raises(LpipsUnavailable, match="28x40 images are below"):
        lpips(_img(0, (28, 40, 3)), _img(1, (28, 40, 3)), weights=path)
