"""3D-to-2D sorting: permutation + padding layout, determinism, smoothness vs random."""
import numpy as np
import pytest
import torch

from gscodec.coding.sort import (
    from_grid,
    grid_shape,
    morton_grid_order,
    neighbour_distance,
    sort_into_grid,
    to_grid,
)
from gscodec.errors import InputError


def _field(n, seed=0):
    """Colours of points on a smooth 3-D field (what trained splat attributes look like)."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, 3))
    f = np.stack([np.sin(3 * p[:, 0]) + p[:, 1], np.cos(4 * p[:, 1] * p[:, 2]), p[:, 2] ** 2], 1)
    return p, f.astype(np.float32)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 17, 99, 257])
def test_order_is_permutation_with_tail_padding(n):
    _, f = _field(n)
    order, side = sort_into_grid(f, seed=0)
    rows, side2 = grid_shape(n)
    assert side == side2 == int(np.ceil(np.sqrt(n)))
    assert (rows - 1) * side < n <= rows * side
    assert order.dtype == np.int64 and np.array_equal(np.sort(order), np.arange(n))
    img = to_grid(f, order, side)
    assert img.shape == (rows, side, 3)
    assert np.array_equal(from_grid(img, n), f[order])


def test_deterministic_with_seed():
    _, f = _field(500)
    a, _ = sort_into_grid(f, seed=3)
    b, _ = sort_into_grid(torch.from_numpy(f), seed=3)
    c, _ = sort_into_grid(f, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sorted_grid_is_smooth():
    p, f = _field(4000)
    fz = (f - f.mean(0)) / f.std(0)
    order, side = sort_into_grid(f, seed=0)
    rnd = neighbour_distance(fz, np.random.default_rng(0).permutation(len(f)), side)
    mort, _ = morton_grid_order(p)
    d_m = neighbour_distance(fz, mort, side)
    d_s = neighbour_distance(fz, order, side)
    assert d_s < 0.25 * rnd
    assert d_s < d_m


def test_init_order_and_validation():
    p, f = _field(300)
    mort, side = morton_grid_order(p)
    assert np.array_equal(np.sort(mort), np.arange(300))
    order, _ = sort_into_grid(f, init_order=mort, start_radius=3)
    assert np.array_equal(np.sort(order), np.arange(300))
    with pytest.raises(InputError):
        sort_into_grid(f, init_order=np.zeros(300, np.int64))
    with pytest.raises(InputError):
        sort_into_grid(np.zeros((0, 3), np.float32))
    with pytest.raises(InputError):
        sort_into_grid(np.zeros(5, np.float32))
    with pytest.raises(InputError):
        sort_into_grid(np.full((5, 2), np.inf, np.float32))


def test_constant_features_do_not_break():
    order, side = sort_into_grid(np.ones((50, 4), np.float32))
    assert np.array_equal(np.sort(order), np.arange(50))
