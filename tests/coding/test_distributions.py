"""The coder's distribution family (quantized Gaussian, Laplace, Gaussian mixture): coded bits
equal the training formula's estimate within 0.5% when the data follow the model, also for
heavy tails and far outliers (the tail floor is the coder's); decoding gives the same symbols
in a fresh process with other thread counts."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from gscodec.coding import ans
from gscodec.entropy.gaussian import bin_likelihood


def _sample(family: str, n: int, seed: int):
    """(symbols, mean, scale, weights): means from sub-bin to wide scales; the mixture has two
    components with different means and scales."""
    g = np.random.default_rng(seed)
    mean = g.normal(0, 3, n)
    scale = np.exp(g.uniform(np.log(0.3), np.log(20), n))
    if family == "gaussian-mixture":
        mean = np.stack([mean, mean + g.normal(0, 8, n)], 1)
        scale = np.stack([scale, 0.5 + 3 * g.random(n)], 1)
        w = np.stack([np.full(n, 0.7), np.full(n, 0.3)], 1)
        pick = (g.random(n) > 0.7).astype(int)
        r = np.arange(n)
        return np.round(mean[r, pick] + scale[r, pick] * g.normal(size=n)).astype(np.int64), mean, scale, w
    noise = g.normal(size=n) if family == "gaussian" else g.laplace(size=n)
    return np.round(mean + scale * noise).astype(np.int64), mean, scale, None


def _centered(k, mean, w):
    c = np.round(mean if w is None else (w * mean).sum(1)).astype(np.int64)
    return k - c, mean - (c if w is None else c[:, None])


def _estimate(family, k, mean, scale, w) -> float:
    t = [torch.from_numpy(np.asarray(a, np.float64)) for a in (k, mean, scale, np.ones(len(k)))]
    wt = None if w is None else torch.from_numpy(w)
    return float(-torch.log2(bin_likelihood(family, *t, weights=wt)).sum())


@pytest.mark.parametrize("family", ans.FAMILIES)
def test_coded_bits_match_the_training_estimate(family):
    k, mean, scale, w = _sample(family, 20_000, 1)
    k[:40] += 60  # far outliers: the estimate must charge them what the coder does
    r, mq = _centered(k, mean, w)
    lo, hi = int(r.min()), int(r.max())
    data = ans.encode_quantized(family, r, mq, scale, lo, hi, weights=w)
    est, coded = _estimate(family, k, mean, scale, w), 8 * len(data)
    assert abs(coded - est) <= 0.005 * est, (family, coded, est)
    assert abs(ans.estimate_bits_quantized(family, r, mq, scale, lo, hi, weights=w) - est) <= 0.005 * est
    assert np.array_equal(ans.decode_quantized(family, data, mq, scale, lo, hi, weights=w), r)


def test_heavy_tails_cost_less_under_the_family_that_fits():
    k, mean, scale, _ = _sample("laplace", 20_000, 2)
    r, mq = _centered(k, mean, None)
    lo, hi = int(r.min()), int(r.max())
    sizes = {f: len(ans.encode_quantized(f, r, mq, scale, lo, hi)) for f in ("gaussian", "laplace")}
    assert sizes["laplace"] < sizes["gaussian"]
    k, mean, scale, w = _sample("gaussian-mixture", 20_000, 3)  # bimodal data: one Gaussian pays more
    r, mq = _centered(k, mean, w)
    lo, hi = int(r.min()), int(r.max())
    mix = len(ans.encode_quantized("gaussian-mixture", r, mq, scale, lo, hi, weights=w))
    one = len(ans.encode_quantized("gaussian", r, mq[:, 0], scale[:, 0], lo, hi))
    assert mix < 0.9 * one


def test_mixture_refuses_bad_parameters():
    with pytest.raises(Exception, match="needs weights"):
        ans.encode_quantized("gaussian-mixture", [0], [[0.0]], [[1.0]], 0, 0)
    with pytest.raises(Exception, match="non-negative"):
        ans.encode_quantized("gaussian-mixture", [0], [[0.0]], [[1.0]], 0, 0, weights=[[-1.0]])
    with pytest.raises(Exception, match="outside"):
        ans.encode_quantized("gaussian-mixture", [5], [[0.0]], [[1.0]], 0, 1, weights=[[1.0]])


def test_fresh_process_with_other_thread_counts_decodes_the_same(tmp_path):
    expect, lo, hi = {}, -(2**20), 2**20
    for family in ans.FAMILIES:
        k, mean, scale, w = _sample(family, 4000, 4)
        r, mq = _centered(k, mean, w)
        np.savez(tmp_path / f"{family}.npz", m=mq, s=scale, **({} if w is None else {"w": w}))
        (tmp_path / f"{family}.bin").write_bytes(ans.encode_quantized(family, r, mq, scale, lo, hi, weights=w))
        expect[family] = r
    code = ("import sys, numpy as np, torch; torch.set_num_threads(int(sys.argv[2])); from gscodec.coding import ans; "
            "d = sys.argv[1]; p = {f: np.load(f'{d}/{f}.npz') for f in ans.FAMILIES}; "
            "np.savez(f'{d}/out{sys.argv[2]}.npz', **{f: ans.decode_quantized(f, open(f'{d}/{f}.bin', 'rb').read(), "
            f"p[f]['m'], p[f]['s'], {lo}, {hi}, weights=p[f]['w'] if 'w' in p[f] else None) for f in ans.FAMILIES}})")
    for threads in ("1", "2"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path), threads], check=True,
                       env={"OMP_NUM_THREADS": threads, "PATH": ""})
    a, b = np.load(tmp_path / "out1.npz"), np.load(tmp_path / "out2.npz")
    for family in ans.FAMILIES:
        assert np.array_equal(a[family], expect[family]) and np.array_equal(b[family], expect[family]), family
