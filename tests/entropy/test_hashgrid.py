"""Binarized hash grids: forward is an interpolation of +-1 entries (checked against a
plain-Python reference incl. the spatial hash), STE gradients, determinism, 96-dim
HAC context, and the Bernoulli-coded bit payload round trip."""
from itertools import product

import numpy as np
import torch

from gscodec.coding import ans
from gscodec.entropy import (
    BinaryHashGrid,
    BinaryHashGrid2D,
    BinaryHashGrid3D,
    HashContext,
)

PR = (1, 2654435761, 805459861)


def _ref(grid: BinaryHashGrid, x: np.ndarray, table: np.ndarray):
    """Reference output [N, L*F] and d(sum of outputs)/d(sign table) weights per row."""
    sign = np.where(table >= 0, 1.0, -1.0)
    out = np.zeros((len(x), grid.out_dim))
    wrow = np.zeros(len(table))
    F = grid.features_per_level
    for n, p in enumerate(x):
        for lvl, r in enumerate(grid.resolutions):
            pos = np.clip(p, 0, 1) * r
            i0 = np.minimum(np.floor(pos), r - 1).astype(int)
            fr = pos - i0
            for corner in product((0, 1), repeat=grid.dim):
                c = [int(i0[d] + corner[d]) for d in range(grid.dim)]
                w = np.prod([fr[d] if corner[d] else 1 - fr[d] for d in range(grid.dim)])
                if (r + 1) ** grid.dim <= grid.table_size:
                    idx = sum(c[d] * (r + 1) ** d for d in range(grid.dim))
                else:
                    h = 0
                    for d in range(grid.dim):
                        h ^= c[d] * PR[d]
                    idx = h % grid.table_size
                row = grid.offsets[lvl] + idx
                out[n, lvl * F : (lvl + 1) * F] += w * sign[row]
                wrow[row] += w
    return out, wrow


def test_forward_matches_reference_and_is_binarized():
    torch.manual_seed(0)
    for grid in (BinaryHashGrid3D(levels=3, resolutions=(4, 24, 40), table_size_log2=12),
                 BinaryHashGrid2D(levels=2, resolutions=(20, 90), table_size_log2=10)):
        assert grid.dense[0] and not grid.dense[-1]
        x = torch.rand(40, grid.dim, dtype=torch.float64).float()
        out = grid(x).detach().numpy()
        ref, _ = _ref(grid, x.double().numpy(), grid.table.detach().numpy())
        assert np.allclose(out, ref, atol=1e-5)
        assert np.abs(out).max() <= 1 + 1e-6
    # at grid vertices the output is exactly a table sign
    g = BinaryHashGrid3D(levels=1, resolutions=(4,), table_size_log2=12)
    v = g(torch.tensor([[0.25, 0.5, 1.0], [0.0, 0.0, 0.0]]))
    assert set(v.flatten().tolist()) <= {-1.0, 1.0}


def test_ste_gradient_is_interpolation_weight_and_clipped():
    torch.manual_seed(1)
    g = BinaryHashGrid3D(levels=2, resolutions=(4, 30), table_size_log2=10)
    with torch.no_grad():  # some entries beyond |x| <= 1 get no gradient
        g.table[::3] *= 3e4
    x = torch.rand(25, 3)
    g(x).sum().backward()
    _, wrow = _ref(g, x.double().numpy(), g.table.detach().numpy())
    t = g.table.detach().numpy()
    expect = np.where(np.abs(t) <= 1, wrow[:, None], 0.0)
    assert np.allclose(g.table.grad.numpy(), expect, atol=1e-5)
    assert np.abs(g.table.grad.numpy()).sum() > 0
    assert np.all(g.table.grad.numpy()[np.abs(t) > 1] == 0)


def test_hac_context_shapes_bounds_and_determinism():
    torch.manual_seed(2)
    ctx = HashContext()
    assert ctx.out_dim == 96 == 12 * 4 + 3 * 4 * 4
    assert ctx.grid3d.table.shape == (6859 + 11 * 8192, 4)  # level 0 (19^3) is dense
    assert all(p.table.shape == (131 ** 2 + 3 * 32768, 4) for p in ctx.planes)
    ctx.set_bounds([-2, -2, -2], [2, 2, 2])
    xyz = torch.rand(100, 3) * 4 - 2
    a, b = ctx(xyz), ctx(xyz)
    assert a.shape == (100, 96) and torch.equal(a, b)
    torch.manual_seed(2)
    other = HashContext()
    other.set_bounds([-2, -2, -2], [2, 2, 2])
    assert torch.equal(other(xyz), a)


def test_bits_payload_roundtrip():
    torch.manual_seed(3)
    ctx = HashContext(BinaryHashGrid3D(levels=2, resolutions=(8, 40), table_size_log2=10),
                      [BinaryHashGrid2D(levels=1, resolutions=(30,), table_size_log2=9) for _ in range(3)])
    with torch.no_grad():
        ctx.grid3d.table.add_(0.3e-4)  # skew the signs so coding saves something
    hb = ctx.bits_payload()
    n = sum(p.numel() for p in ctx.parameters())
    assert hb.bits.size == n and 0 < hb.p < 1 and hb.p != 0.5
    assert hb.nbits == 8 * len(hb.payload) and hb.nbits <= n + 64
    assert abs(hb.nbits - ans.estimate_bits_bits(hb.bits, hb.p)) <= 64
    dec = ans.decode_bits(hb.payload, hb.p, n)
    assert np.array_equal(dec, hb.bits)
    xyz = torch.rand(30, 3)
    before = ctx(xyz)
    fresh = HashContext(BinaryHashGrid3D(levels=2, resolutions=(8, 40), table_size_log2=10),
                        [BinaryHashGrid2D(levels=1, resolutions=(30,), table_size_log2=9) for _ in range(3)])
    fresh.load_bits(dec)
    assert torch.equal(fresh(xyz), before)
