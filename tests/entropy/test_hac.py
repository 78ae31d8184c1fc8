"""HAC entropy model: defaults, STE binarization and gradients, the three modes, the rate
term, and the coding face (float64 params deterministic and equal to the training face;
the model's estimate equals the coder's -log2 p within 0.5%)."""
import numpy as np
import pytest
import torch

from gscodec.coding import ans
from gscodec.entropy import HacConfig, HacEntropyModel
from gscodec.entropy.hac import GROUPS
from gscodec.errors import InputError


def small_cfg(**kw) -> HacConfig:
    base = {"feat_dim": 16, "feature_chunks": (16,), "n_offsets": 4, "hidden": 32, "grid3d_resolutions": (4, 8, 16), "grid3d_table_log2": 9,
            "grid2d_resolutions": (8, 32), "grid2d_table_log2": 9}
    return HacConfig(**{**base, **kw})


def make(n=300, seed=0, cfg=None, fit=True):
    """A random model with bounds set and attributes drawn from its own Gaussians (what a
    trained model sees), or plain random attributes (fit=False)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    cfg = cfg or small_cfg()
    m = HacEntropyModel(cfg)
    with torch.no_grad():
        for t in m.context._tables():
            t.uniform_(-1, 1)
    xyz = torch.rand(n, 3, generator=g) * 2 - 1
    m.set_bounds(xyz.min(0).values, xyz.max(0).values)
    with torch.no_grad():
        prm = m.params(xyz)
    if fit:
        ys = {k: v[0] + v[1] * torch.randn(v[0].shape, generator=g) for k, v in prm.items()}
    else:
        ys = {k: torch.randn(v[0].shape, generator=g) for k, v in prm.items()}
    mask = torch.rand(n, cfg.n_offsets, generator=g) < 0.7
    return m, xyz, ys["feature"], ys["scaling"], ys["offsets"].reshape(n, cfg.n_offsets, 3), mask


def test_defaults_are_hacs():
    cfg = HacConfig()
    m = HacEntropyModel(cfg)
    assert m.context.out_dim == 96
    assert [tuple(t.shape) for t in m.mlp_tensors()[:4]] == [(100, 96), (100,), (2 * 86 + 3, 100), (2 * 86 + 3,)]
    assert (cfg.q0_feature, cfg.q0_scaling, cfg.q0_offsets, cfg.rate_fraction) == (1.0, 0.001, 0.2, 0.05)
    assert cfg.hash_entries() == sum(t.numel() for t in m.context._tables())
    assert HacConfig.from_dict(cfg.to_dict()) == cfg.validate()
    with pytest.raises(InputError):
        HacConfig(feat_dim=0).validate()
    with pytest.raises(InputError):
        HacConfig.from_dict({"nonsense": 1})


def test_binarized_context_and_ste_gradients():
    m, xyz, f, s, o, mask = make(n=200)
    ctx = m.context(xyz)
    # a convex combination of +-1 entries
    assert ctx.abs().max() <= 1 + 1e-6
    with torch.no_grad():  # move some entries beyond the STE window: their gradient is clipped
        m.context.grid3d.table[:5] = 3.0
    m.train()
    f.requires_grad_(True)
    maskf = mask.float().requires_grad_(True)
    out = m(xyz, f, s, o, maskf, mode="context")
    out.rate_loss.backward()
    t = m.context.grid3d.table
    assert t.grad is not None and t.grad.abs().sum() > 0
    assert torch.all(t.grad[:5] == 0)
    assert m.mlp[0].weight.grad.abs().sum() > 0 and m.mlp[2].bias.grad.abs().sum() > 0
    assert f.grad.abs().sum() > 0 and maskf.grad.abs().sum() > 0  # the rate pushes masks too (HAC)
    # hash bits: Bernoulli entropy of the signs, about what the coder spends on them
    hb = m.context.bits_payload()
    assert abs(float(m.hash_bits().detach()) - hb.nbits) <= 0.01 * hb.nbits + 64


def test_modes_plain_noise_context():
    cfg = small_cfg()
    m, xyz, f, s, o, mask = make(n=150, cfg=cfg)
    m_exp = HacEntropyModel(small_cfg(scaling_domain="exp"))
    s_pos = torch.log(torch.rand(150, 6) * 0.05 + 0.002)
    m_exp.train()
    ye = m_exp(xyz, f, s_pos, o, mask, mode="noise").scaling
    assert (torch.exp(ye) - torch.exp(s_pos)).abs().max() <= cfg.q0_scaling / 2 + 1e-6
    m_exp.eval()
    ye = m_exp(xyz, f, s_pos, o, mask, mode="noise").scaling
    assert torch.allclose(torch.exp(ye), torch.round(torch.exp(s_pos) / 0.001) * 0.001, atol=1e-6)
    out = m(xyz, f, s, o, mask, mode="plain")
    assert out.features is f and out.offsets is o and float(out.rate_loss) == 0
    assert set(out.bits) == {"feature", "scaling", "offsets", "hash"} and all(float(b) == 0 for b in out.bits.values())

    m.train()
    out = m(xyz, f, s, o, mask, mode="noise")
    for y, yq, q0 in ((f, out.features, cfg.q0_feature), (s, out.scaling, cfg.q0_scaling), (o, out.offsets, cfg.q0_offsets)):
        d = (yq - y).abs()
        assert d.max() <= q0 / 2 + 1e-6 and d.max() > 0
    assert float(out.rate_loss) == 0
    m.eval()
    out = m(xyz, f, s, o, mask, mode="noise")
    assert torch.allclose(out.features, torch.round(f / cfg.q0_feature) * cfg.q0_feature)
    assert torch.allclose(out.offsets, torch.round(o / cfg.q0_offsets) * cfg.q0_offsets)

    prm = m.params(xyz)
    for g, qmax in (("feature", 2 * cfg.q0_feature), ("scaling", 2 * cfg.q0_scaling), ("offsets", 2 * cfg.q0_offsets)):
        q = prm[g][2]
        assert q.shape == (150, 1) and torch.all(q > 0) and torch.all(q <= qmax)
    m.train()
    out = m(xyz, f, s, o, mask, mode="context")
    assert torch.all((out.features - f).abs() <= prm["feature"][2] / 2 + 1e-6)
    assert torch.all((out.offsets - o).reshape(150, -1).abs() <= prm["offsets"][2] / 2 + 1e-6)
    assert all(float(out.bits[g].detach()) > 0 for g in GROUPS) and float(out.rate_loss.detach()) > 0
    m.eval()
    out = m(xyz, f, s, o, mask, mode="context")
    q = prm["scaling"][2]
    assert torch.allclose(out.scaling, torch.round(s / q) * q)
    with pytest.raises(InputError):
        m(xyz, f, s, o, mask, mode="bogus")


@torch.no_grad()
def test_masked_offsets_sample_and_rate_normalization():
    m, xyz, f, s, o, mask = make(n=200)
    m.eval()
    a = m(xyz, f, s, o, mask, mode="context")
    o2 = o.clone()
    o2[~mask] += 7.0  # masked offsets are not counted
    b = m(xyz, f, s, o2, mask, mode="context")
    assert float(a.bits["offsets"]) == pytest.approx(float(b.bits["offsets"]), rel=1e-6)
    none = m(xyz, f, s, o, torch.zeros_like(mask), mode="context")
    assert float(none.bits["offsets"]) == 0
    # a sample: bits of exactly those anchors, normalized by their parameter count
    idx = torch.arange(0, 200, 7)
    sub = m(xyz, f, s, o, mask, mode="context", sample=idx)
    ref = m(xyz[idx], f[idx], s[idx], o[idx], mask[idx], mode="context")
    for g in GROUPS:
        assert float(sub.bits[g]) == pytest.approx(float(ref.bits[g]), rel=1e-5)
    p = m.cfg.n_params
    want = sum(float(sub.bits[g]) for g in GROUPS) / (len(idx) * p) + float(sub.bits["hash"]) / (200 * p)
    assert float(sub.rate_loss) == pytest.approx(want, rel=1e-5)
    samp = m.rate_sample(20000, generator=torch.Generator().manual_seed(0))
    assert 0.04 < len(samp) / 20000 < 0.06


def test_coder_inputs_are_float64_deterministic_and_match_training_face():
    m, xyz, *_ = make(n=400)
    prm64 = m.coder_inputs(xyz)
    with torch.no_grad():
        prm32 = m.params(xyz)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        again = m.coder_inputs(xyz.numpy())
    finally:
        torch.set_num_threads(threads)
    for g in GROUPS:
        for a, b, c in zip(prm64[g], prm32[g], again[g]):
            assert a.dtype == np.float64 and np.array_equal(a, c)
            assert np.allclose(a, b.double().numpy(), rtol=1e-4, atol=1e-5)


def _randomize_chunk_mlps(m, scale=0.05):
    with torch.no_grad():
        for mlp in m.chunk_mlps:
            mlp[2].weight.normal_(0, scale)
            mlp[2].bias.normal_(0, scale)


@pytest.mark.parametrize("fit,chunks,domain", [(True, (32,), "log"), (False, (32,), "log"), (True, (16, 8, 8), "exp")])
def test_estimate_equals_coder_cost(fit, chunks, domain):
    """The model's -log2 p of the final symbols vs the ANS coder's actual size."""
    cfg = small_cfg(feat_dim=32, n_offsets=5, feature_chunks=chunks, scaling_domain=domain)
    m, xyz, f, s, o, mask = make(n=2000, seed=3, cfg=cfg, fit=fit)
    if domain == "exp":  # positive scales drawn from the model: stored form is their log
        with torch.no_grad():
            m.mlp[2].bias[64:70] += 5.0
            mean, scale, _ = m.params(xyz)["scaling"]
        s = torch.log(mean + scale * torch.randn(mean.shape, generator=torch.Generator().manual_seed(9)))
        assert torch.isfinite(s).all()
    if not fit:  # a "trained-ish" model on non-matching data: scales fitted to the data spread
        with torch.no_grad():
            m.mlp[2].weight.mul_(0.01)
            m.mlp[2].bias.zero_()
    _randomize_chunk_mlps(m)
    heads = m.coder_heads(xyz)
    qf = heads["feature"][2]
    fhat = np.round(f.double().numpy() / qf) * qf
    prm = m.coder_inputs(xyz, fhat, heads=heads)
    if len(chunks) == 1:
        assert all(np.array_equal(a, b) for g in GROUPS for a, b in zip(prm[g], m.coder_inputs(xyz)[g]))
    else:
        with pytest.raises(InputError):
            m.coder_inputs(xyz)
        assert not np.allclose(prm["feature"][0][:, 16:], heads["feature"][0][:, 16:])  # the context acts
    est = m.estimate_bits(xyz, f, s, o, mask.numpy(), params=prm)
    assert est == m.estimate_bits(xyz, f, s, o, mask.numpy())
    sel = np.repeat(mask.numpy(), 3, axis=1).reshape(-1)
    for g, y in (("feature", f), ("scaling", m.coded_scaling(s)), ("offsets", o.reshape(2000, -1))):
        mean, scale, q = prm[g]
        k = np.round(y.double().numpy() / q).reshape(-1)
        mq, sq = (mean / q).reshape(-1), (scale / q).reshape(-1)
        if g == "offsets":
            k, mq, sq = k[sel], mq[sel], sq[sel]
        c = np.round(mq)
        r = (k - c).astype(np.int64)
        payload = ans.encode_gaussian(r, mq - c, sq, int(r.min()), int(r.max()))
        coded = 8 * len(payload)
        assert abs(coded - est[g]) <= 0.005 * est[g], (g, coded, est[g])
        back = ans.decode_gaussian(payload, mq - c, sq, int(r.min()), int(r.max()))
        assert np.array_equal(back, r)
    # and the training face (float32, eval mode) agrees with the float64 estimate
    m.eval()
    with torch.no_grad():
        out = m(xyz, f, s, o, mask, mode="context")
    for g in GROUPS:
        assert float(out.bits[g]) == pytest.approx(est[g], rel=2e-3)


def test_channel_context_defaults_and_gradients():
    cfg = HacConfig(grid3d_resolutions=(4, 8), grid3d_table_log2=8, grid2d_resolutions=(8,), grid2d_table_log2=8)
    m = HacEntropyModel(cfg)
    assert m.cfg.feature_chunks == (25, 10, 15) and len(m.chunk_mlps) == 2
    # other widths keep HAC's proportions (the small-scene 32-wide feature keeps its channel context)
    assert HacConfig(feat_dim=32).validate().feature_chunks == (16, 6, 10)
    assert HacConfig(feat_dim=8).validate().feature_chunks == (8,)
    assert m.mlp_nbytes() == 4 * m.cfg.mlp_param_count(m.context.out_dim) == 4 * m.cfg.mlp_param_count()
    with pytest.raises(InputError):
        HacConfig(feat_dim=16, feature_chunks=(8, 4)).validate()
    xyz = torch.rand(64, 3)
    m.set_bounds(xyz.min(0).values, xyz.max(0).values)
    f, s, o = torch.randn(64, 50, requires_grad=True), torch.randn(64, 6), torch.randn(64, 10, 3)
    m.train()
    out = m(xyz, f, s, o, torch.ones(64, 10, dtype=torch.bool))
    out.rate_loss.backward()
    assert m.chunk_mlps[1][2].weight.grad.abs().sum() > 0
    blob = m.mlp_bytes()
    m2 = HacEntropyModel(cfg)
    m2.load_mlp_bytes(blob)
    assert all(torch.equal(a, b) for a, b in zip(m.mlp_tensors(), m2.mlp_tensors()))
