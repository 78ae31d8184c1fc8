"""k-means: exact recovery of separated clusters, determinism, empty clusters, k >= N, IVF path."""
import numpy as np
import pytest
import torch

import gscodec.coding.kmeans as km
from gscodec.coding.kmeans import kmeans, kmeans_assign
from gscodec.errors import InputError


def _blobs(k=8, per=50, d=5, seed=0, spread=0.01):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)).astype(np.float32) * 10
    truth = np.repeat(np.arange(k), per)
    x = centres[truth] + rng.normal(size=(k * per, d)).astype(np.float32) * spread
    perm = rng.permutation(len(x))
    return x[perm], truth[perm], centres


def _same_partition(a, b):
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_recovers_separated_clusters():
    x, truth, centres = _blobs()
    c, labels = kmeans(x, 8, iters=20, seed=0)  # k-means++ init finds every blob
    assert c.shape == (8, 5) and c.dtype == np.float32 and labels.shape == (len(x),)
    assert _same_partition(labels, truth)
    for j in range(8):
        assert np.allclose(c[j], x[labels == j].mean(0), atol=1e-4)
    assert np.array_equal(kmeans_assign(x, c), labels)


def test_deterministic_for_seed_and_accepts_torch():
    x, _, _ = _blobs(k=6, per=40, seed=3, spread=1.0)
    a = kmeans(x, 6, seed=7)
    b = kmeans(torch.from_numpy(x), 6, seed=7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_empty_clusters_are_reseeded():
    # 3 distinct values but 5 clusters: duplicates make empty clusters inevitable at init
    rng = np.random.default_rng(0)
    x = np.repeat(np.array([[0.0, 0], [5, 5], [10, 0]], np.float32), 30, 0)
    x = np.concatenate([x, rng.normal(size=(4, 2)).astype(np.float32) * 0.01 + [20, 20]])
    c, labels = kmeans(x, 5, iters=10, seed=1)
    assert c.shape == (5, 2) and np.isfinite(c).all()
    assert labels.min() >= 0 and labels.max() < 5
    err = ((x - c[labels]) ** 2).sum(1).max()
    assert err < 1.0  # every point ends near a centroid: the far group got one


def test_k_at_least_n_each_point_its_own_centroid():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    for k in (4, 10):
        c, labels = kmeans(x, k)
        assert np.array_equal(c, x) and np.array_equal(labels, np.arange(4))


def test_sample_and_ivf_paths(monkeypatch):
    monkeypatch.setattr(km, "IVF_MIN_K", 1024)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(1200, 8)).astype(np.float32) * 5
    x = centres[rng.integers(0, 1200, 6000)] + rng.normal(size=(6000, 8)).astype(np.float32) * 0.05
    c, labels = kmeans(x, 1100, iters=4, seed=0, sample=5000)  # k >= IVF_MIN_K -> IVF assignment
    assert c.shape == (1100, 8) and labels.shape == (6000,)
    exact = kmeans_assign(x, c)
    assert (exact == labels).mean() > 0.9  # IVF recall
    d_ivf = ((x - c[labels]) ** 2).sum(1).mean()
    d_exact = ((x - c[exact]) ** 2).sum(1).mean()
    assert d_ivf <= d_exact * 1.5
    spread = ((x - x.mean(0)) ** 2).sum(1).mean()
    assert d_exact < 0.05 * spread


def test_bad_input():
    with pytest.raises(InputError):
        kmeans(np.zeros(5, np.float32), 2)
    with pytest.raises(InputError):
        kmeans(np.zeros((5, 2), np.float32), 0)
    with pytest.raises(InputError):
        kmeans(np.zeros((0, 2), np.float32), 2)
    with pytest.raises(InputError):
        kmeans(np.full((5, 2), np.nan, np.float32), 2)
    with pytest.raises(InputError):
        kmeans_assign(np.zeros((5, 2), np.float32), np.zeros((3, 4), np.float32))
