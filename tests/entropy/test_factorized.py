"""FactorizedEntropyModel: learns a density, and the ANS coder's exact cost of the
integer table built by pmf_table equals the training-time bits() within 0.1%."""
import numpy as np
import torch

from gscodec.entropy import FactorizedEntropyModel

SCALES = (0.7, 3.0, 10.0)


def _trained(seed=0, steps=300):
    """A few hundred Adam steps on Laplacian data (one thread: tiny matmuls thrash 2 busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(seed, steps)
    finally:
        torch.set_num_threads(threads)


def _train(seed, steps):
    torch.manual_seed(seed)
    g = np.random.default_rng(seed)
    data = torch.tensor(g.laplace(0.0, SCALES, size=(2000, 3)), dtype=torch.float32)
    m = FactorizedEntropyModel(3).train()
    opt = torch.optim.Adam(m.parameters(), lr=2e-2)
    for _ in range(steps):
        opt.zero_grad()
        _, bits = m(data)
        (bits / data.numel()).backward()
        opt.step()
    return m.eval(), data


def test_training_lowers_bits_and_coder_matches_model_bits():
    m, data = _trained()
    y = torch.round(data)
    model_bits = m.bits(y).item()
    # the learned density is close to the empirical entropy of the rounded data
    emp = 0.0
    for j in range(3):
        _, c = np.unique(y[:, j].numpy(), return_counts=True)
        emp += -(c * np.log2(c / c.sum())).sum()
    assert model_bits < 1.05 * emp
    lo, hi = y.min(0).values.long().numpy() - 2, y.max(0).values.long().numpy() + 2
    coded = m.coded_bits(y.numpy().astype(np.int64), lo, hi)
    assert abs(coded - model_bits) / model_bits < 1e-3, (coded, model_bits)
    # and the real ANS payload is that size up to word padding
    payloads = m.encode(y.numpy().astype(np.int64), lo, hi)
    real = sum(8 * len(p) for p in payloads)
    assert coded <= real <= coded + 3 * 64 + 8
    out = m.decode(payloads, len(y), lo, hi)
    assert np.array_equal(out, y.numpy().astype(np.int64))


def test_pmf_table_deterministic_and_shapes():
    m, _ = _trained(seed=1, steps=20)
    t1 = m.pmf_table(-5, 7)
    t2 = m.pmf_table(-5, 7)
    assert len(t1) == 3 and all(t.dtype == np.uint32 and t.size == 13 for t in t1)
    assert all(np.array_equal(a, b) for a, b in zip(t1, t2))
    per = m.pmf_table([-1, -2, -3], [1, 2, 3])
    assert [t.size for t in per] == [3, 5, 7]
    assert all(int(t.min()) >= 1 for t in per)


def test_likelihood_floor_and_gradient():
    m = FactorizedEntropyModel(2)
    y = torch.tensor([[0.0, 1e6]], requires_grad=True)
    p = m.likelihood(y)
    assert p[0, 1].item() == np.float32(1e-9) and 0 < p[0, 0].item() <= 1
    m.bits(torch.randn(10, 2)).backward()
    assert all(p.grad is not None for p in m.parameters())
