"""GaussianConditional: HAC's bin likelihood, and the ANS coder's cost of the grid symbols
under coder_params matches the training-time bits() within 0.5%; coding round trip."""
import numpy as np
import torch

from gscodec.coding import ans
from gscodec.entropy import GaussianConditional


def _sample(seed=0, n=20000):
    g = np.random.default_rng(seed)
    q = g.uniform(0.02, 0.5, n)
    mean = g.normal(0, 2, n)
    # scales from 2/64 of a step (above ans.STD_MIN = 1/64 in grid units) to 8 steps
    scale = q * np.exp(g.uniform(np.log(2 / 64), np.log(8), n))
    y = np.round(g.normal(mean, scale) / q) * q  # on the grid, drawn from the model
    return [torch.tensor(a, dtype=torch.float32) for a in (y, mean, scale, q)]


def test_likelihood_formula_floor_and_gradient():
    gc = GaussianConditional()
    y = torch.tensor([0.0, 0.3, 50.0])
    mean = torch.tensor([0.0, 0.0, 0.0], requires_grad=True)
    scale = torch.tensor([1.0, 0.5, 1.0], requires_grad=True)
    p = gc.likelihood(y, mean, scale, 0.2)
    n = torch.distributions.Normal(0.0, torch.tensor([1.0, 0.5]))
    ref = n.cdf(y[:2] + 0.1) - n.cdf(y[:2] - 0.1)
    assert torch.allclose(p[:2], ref, rtol=1e-5) and p[2].item() == np.float32(ans.TAIL_FLOOR)  # the coder's floor
    gc.bits(y[:2], mean[:2], scale[:2], 0.2).backward()
    assert scale.grad[1].item() != 0 and mean.grad[1].item() != 0


def test_coder_bits_match_model_bits():
    y, mean, scale, q = _sample()
    gc = GaussianConditional().eval()
    model_bits = gc.bits(y, mean, scale, q).item()
    sym = gc.symbols(y, q)
    assert np.allclose(sym * q.double().numpy(), y.double().numpy(), atol=1e-5)
    lo, hi = int(sym.min()) - 4, int(sym.max()) + 4
    coded = gc.coded_bits(sym, mean, scale, q, lo, hi)
    assert abs(coded - model_bits) / model_bits < 5e-3, (coded, model_bits)  # the brief's bound
    assert abs(coded - model_bits) / model_bits < 1e-3  # measured: ~1e-7


def test_encode_decode_roundtrip_and_size():
    y, mean, scale, q = _sample(seed=1, n=3000)
    gc = GaussianConditional()
    sym = gc.symbols(y, q)
    lo, hi = int(sym.min()) - 2, int(sym.max()) + 2
    data = gc.encode(sym, mean, scale, q, lo, hi)
    est = gc.coded_bits(sym, mean, scale, q, lo, hi)
    assert est <= 8 * len(data) <= est + 128
    # the decoder recomputes the parameters from the same (float32) inputs
    out = gc.decode(data, mean.clone(), scale.clone(), q.clone(), lo, hi)
    assert np.array_equal(out, sym)


def test_forward_faces():
    torch.manual_seed(0)
    gc = GaussianConditional()
    y = torch.randn(1000)
    y_hat, bits = gc.train()(y, torch.zeros(1000), torch.ones(1000), 0.25)
    assert (y_hat - y).abs().max() <= 0.125 + 1e-6 and bits.item() > 0
    y_hat, _ = gc.eval()(y, torch.zeros(1000), torch.ones(1000), 0.25)
    assert torch.allclose(y_hat / 0.25, torch.round(y_hat / 0.25))
    m, s = gc.coder_params(torch.tensor([0.5]), torch.tensor([0.01]), 0.25)
    assert m.dtype == np.float64 and m[0] == 2.0 and s[0] == np.float64(np.float32(0.01)) / 0.25
    assert ans.STD_MIN == 1 / 64
