"""Compression simulation pieces: SH masks, the unclamped grid, CompressionSim's faces."""
import numpy as np
import torch

from gscodec.entropy.context_gaussian import ContextGridConfig, HashGridGaussianModel
from gscodec.simulate.masks import GradientMask, LearnableMask, MaskConfig
from gscodec.simulate.quantize import QuantConfig, Quantizer
from gscodec.simulate.sim import CompressionSim, SimConfig, to_channels


def test_unclamped_grid_extends_past_the_range():
    q = Quantizer(1, QuantConfig(mode="ste", bits=4, ema=None, clamp=False))
    q.set_range(0.0, 1.0)
    x = torch.tensor([[2.0], [-0.52]])
    k = q.symbols(x)
    assert k.tolist() == [[30], [-8]]  # step 1/15: outside [0, 15], not clamped
    q.eval()
    assert torch.allclose(q(x), q.dequantize(k))


def test_learnable_mask_is_binary_forward_with_soft_gradient_and_kl_pulls_to_ratio():
    m = LearnableMask(200, MaskConfig(ratio=0.3, init_prob=0.9, kl_weight=1.0, sparsity_weight=0.0))
    hard = m()
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    hard.sum().backward()
    assert m.logits.grad is not None and m.logits.grad.abs().sum() > 0
    opt = torch.optim.Adam(m.parameters(), lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        m.loss().backward()
        opt.step()
    assert abs(float(m.soft().mean().detach()) - 0.3) < 0.05
    m.set_progress(1.0)
    assert abs(float(m.temperature) - MaskConfig().temperature[1]) < 1e-6


def test_gradient_mask_admits_strong_rows_up_to_the_ratio():
    p = torch.nn.Parameter(torch.randn(10, 3))
    gm = GradientMask(MaskConfig(kind="gradient", ratio=0.3, grad_threshold=0.5))
    gm.attach(p)
    assert float(p.abs().sum()) == 0.0  # masked attributes start at zero
    g = torch.zeros(10, 3)
    g[0], g[1], g[2], g[3] = 1.0, 2.0, 3.0, 0.1  # rows 0-2 strong, row 3 weak
    (p * g).sum().backward()
    assert p.grad[3].abs().sum() == 0 and p.grad[:3].abs().sum() > 0
    p.grad = None
    with torch.no_grad():
        p[:3] += 1.0  # rows 0..2 now active: the ratio (3 of 10) is reached
    g2 = torch.zeros(10, 3)
    g2[5] = 10.0
    g2[0] = 1.0
    (p * g2).sum().backward()
    assert p.grad[5].abs().sum() == 0 and p.grad[0].abs().sum() > 0  # no room for new rows
    assert gm.active(p).tolist() == [True] * 3 + [False] * 7


def _params(n=300, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"means": torch.randn(n, 3, generator=g), "quats": torch.randn(n, 4, generator=g),
            "log_scales": torch.randn(n, 3, generator=g) - 3, "opacity_logits": torch.randn(n, generator=g),
            "sh_dc": torch.randn(n, 3, generator=g), "sh_rest": 0.1 * torch.randn(n, k, 3, generator=g)}


def test_sim_eval_output_is_what_the_symbols_decode_to():
    params = _params()
    sim = CompressionSim(SimConfig(), n_rest_channels=9)
    sim.begin(params)
    sim.eval()
    out, bits, elements = sim(params)
    ch_out = {"quats": out["quats"], "log_scales": out["log_scales"], "opacity_logits": out["opacity_logits"][:, None],
              "sh_dc": out["sh_dc"]}  # not renormalized: the renderer and the decoder normalize
    for name in ("quats", "log_scales", "opacity_logits", "sh_dc"):
        k = sim.symbols(name, to_channels(params)[name])
        assert torch.allclose(ch_out[name], sim.from_symbols(name, k), atol=1e-6), name
    assert elements == 300 * 11 and float(bits) > 0
    # the SH mask is hard in eval: every row either kept or zeroed
    rows = out["sh_rest"].reshape(300, -1).abs().amax(1)
    assert torch.equal(rows > 0, sim.mask.hard())


def test_sim_training_noise_stays_within_half_a_step_and_rate_has_gradients():
    params = {k: torch.nn.Parameter(v) for k, v in _params().items()}
    sim = CompressionSim(SimConfig(mask=MaskConfig(kind="none")), n_rest_channels=9)
    sim.begin(params)
    sim.train()
    out, bits, elements = sim(params)
    d = (to_channels(out)["log_scales"] - params["log_scales"]).abs()
    assert float((d / sim.quantizers["log_scales"].step()).max()) <= 0.5 + 1e-5
    sim.rate_loss(bits, elements).backward()
    assert params["log_scales"].grad.abs().sum() > 0
    assert all(p.grad is not None for p in sim.entropy.parameters())


def test_hash_grid_gaussian_bits_match_the_coder():
    torch.manual_seed(0)
    m = HashGridGaussianModel(3, ContextGridConfig())
    with torch.no_grad():  # a fitted-like model (scale ~3): the bits then come from the bins, not the tails
        m.mlp[2].bias[3:] += 3.0
    xyz = torch.rand(3000, 3)
    m.set_bounds(torch.zeros(3), torch.ones(3))
    y = torch.round(3 * torch.randn(3000, 3))
    est = float(m.double().bits(xyz.double(), y.double()))
    m.float()
    mean, scale = m.coder_params(xyz.numpy())
    data = m.conditional.encode(y.numpy().astype(np.int64).reshape(-1), mean, scale, 1.0, -64, 64)
    coded = m.conditional.coded_bits(y.numpy().astype(np.int64).reshape(-1), mean, scale, 1.0, -64, 64)
    assert abs(coded - est) / est < 1e-3  # the coder's -log2 p equals the model's bits
    assert 8 * len(data) <= coded + 128  # + the payload framing
    dec = m.conditional.decode(data, *m.coder_params(xyz.numpy()), 1.0, -64, 64)
    assert np.array_equal(dec, y.numpy().astype(np.int64).reshape(-1))


def test_entropy_constraint_without_quantization_is_refused_up_front():
    """A rate needs symbols: 'none' quantization on a constrained attribute is a config error
    (it used to train to the end and fail when the rate was estimated)."""
    import pytest

    from gscodec.errors import InputError
    from gscodec.simulate.sim import SimConfig

    with pytest.raises(InputError, match="need quantization"):
        SimConfig(quantization="none").validate()
    with pytest.raises(InputError, match="need quantization"):
        SimConfig(quant_modes={"quats": "none"}).validate()
    SimConfig(quantization="none", entropy_model="none").validate()  # fine: nothing to constrain
