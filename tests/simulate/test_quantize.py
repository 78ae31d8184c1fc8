"""Quantizer: documented forward values and gradients of each mode, eval rounding."""
import pytest
import torch

from gscodec.simulate import QuantConfig, Quantizer, make_quantizers


def test_noise_bounded_zero_mean_and_unit_gradient():
    torch.manual_seed(0)
    qz = Quantizer(3, mode="noise", step=0.25).train()
    x = torch.randn(20000, 3, requires_grad=True)
    y = qz(x)
    d = (y - x).detach()
    assert d.abs().max() <= 0.125 + 1e-6
    assert d.mean().abs() < 0.01 and abs(d.std().item() - 0.25 / 12 ** 0.5) < 0.005
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_ste_on_grid_and_unit_gradient():
    qz = Quantizer(2, mode="ste", step=0.1).train()
    x = torch.randn(1000, 2, requires_grad=True)
    y = qz(x)
    k = y.detach() / 0.1
    assert torch.allclose(k, k.round(), atol=1e-4)
    assert (y - x).detach().abs().max() <= 0.05 + 1e-6
    (y * 3).sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 3.0))


@pytest.mark.parametrize("mode", ["noise", "ste"])
def test_eval_rounds(mode):
    qz = Quantizer(1, mode=mode, step=0.5).eval()
    x = torch.tensor([[0.2], [0.3], [-0.74], [1.26]])
    assert torch.equal(qz(x), torch.tensor([[0.0], [0.5], [-0.5], [1.5]]))


def test_none_is_identity():
    qz = Quantizer(2, mode="none").train()
    x = torch.randn(5, 2)
    assert torch.equal(qz(x), x)


def test_bits_over_range_per_channel_and_symbols():
    qz = Quantizer(2, QuantConfig(mode="ste", bits=4, ema=None))
    qz.set_range([0.0, -1.0], [1.5, 2.0])
    assert torch.allclose(qz.step(), torch.tensor([0.1, 0.2]))
    x = torch.tensor([[0.0, -1.0], [1.5, 2.0], [0.74, 0.05], [9.0, -9.0]])
    k = qz.symbols(x)
    assert k.tolist() == [[0, 0], [15, 15], [7, 5], [15, 0]]
    assert torch.allclose(qz.dequantize(k), qz.eval()(x), atol=1e-6)  # out-of-range clamps too
    xs = x.clone().requires_grad_(True)
    y = qz.train()(xs)
    assert torch.allclose(y.detach(), qz.dequantize(k), atol=1e-6)
    y.sum().backward()
    assert torch.equal(xs.grad, torch.ones_like(xs))


def test_ema_range_tracking():
    qz = Quantizer(1, mode="noise", bits=8, ema=0.5).train()
    qz(torch.tensor([[0.0], [2.0]]))
    assert qz.lo.item() == 0.0 and qz.hi.item() == 2.0
    qz(torch.tensor([[-2.0], [4.0]]))
    assert qz.lo.item() == -1.0 and qz.hi.item() == 3.0
    qz.eval()(torch.tensor([[100.0]]))  # eval does not move the range
    assert qz.hi.item() == 3.0


def test_config_validation_and_per_attribute():
    with pytest.raises(ValueError):
        QuantConfig(mode="bogus")
    qs = make_quantizers({"xyz": QuantConfig(mode="ste", step=1e-3), "sh": None}, {"xyz": 3, "sh": 45})
    assert qs["xyz"].mode == "ste" and qs["sh"].mode == "none"
    sd = qs.state_dict()
    assert "xyz.lo" in sd and "sh.range_set" in sd
