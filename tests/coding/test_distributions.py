"""The coder's distribution family (quantized Gaussian and Laplace): coded bits equal the
training formula's estimate within 0.5% when the data follow the model, also heavy-tailed
Laplace data; decoding gives the same symbols in a fresh process with other thread counts."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from gscodec.coding import ans
from gscodec.entropy.gaussian import bin_likelihood


def _sample(family: str, n: int, seed: int):
    g = np.random.default_rng(seed)
    mean = g.normal(0, 3, n)
    scale = np.exp(g.uniform(np.log(0.3), np.log(20), n))  # from sub-bin to wide
    noise = g.normal(size=n) if family == "gaussian" else g.laplace(size=n)
    k = np.round(mean + scale * noise).astype(np.int64)
    return k, mean, scale


@pytest.mark.parametrize("family", ans.FAMILIES)
def test_coded_bits_match_the_training_estimate(family):
    k, mean, scale = _sample(family, 40_000, 1)
    center = np.round(mean).astype(np.int64)
    r, mq = k - center, mean - center
    lo, hi = int(r.min()), int(r.max())
    data = ans.encode_quantized(family, r, mq, scale, lo, hi)
    est = float(-torch.log2(bin_likelihood(family, *(torch.from_numpy(np.asarray(a, np.float64))
                                                      for a in (k, mean, scale, np.ones_like(mean))))).sum())
    coded = 8 * len(data)
    assert abs(coded - est) <= 0.005 * est, (family, coded, est)
    assert abs(ans.estimate_bits_quantized(family, r, mq, scale, lo, hi) - est) <= 0.005 * est
    assert np.array_equal(ans.decode_quantized(family, data, mq, scale, lo, hi), r)


def test_laplace_codes_heavy_tails_cheaper_than_a_gaussian():
    k, mean, scale = _sample("laplace", 20_000, 2)
    c = np.round(mean).astype(np.int64)
    lo, hi = int((k - c).min()), int((k - c).max())
    sizes = {f: len(ans.encode_quantized(f, k - c, mean - c, scale, lo, hi)) for f in ans.FAMILIES}
    assert sizes["laplace"] < sizes["gaussian"]


def test_fresh_process_with_other_thread_counts_decodes_the_same(tmp_path):
    k, mean, scale = _sample("laplace", 5000, 3)
    c = np.round(mean).astype(np.int64)
    lo, hi = int((k - c).min()), int((k - c).max())
    np.savez(tmp_path / "p.npz", m=mean - c, s=scale)
    for family in ans.FAMILIES:
        (tmp_path / f"{family}.bin").write_bytes(ans.encode_quantized(family, k - c, mean - c, scale, lo, hi))
    code = ("import sys, numpy as np, torch; torch.set_num_threads(int(sys.argv[2])); from gscodec.coding import ans; "
            "p = np.load(sys.argv[1] + '/p.npz'); "
            "np.savez(sys.argv[1] + f'/out{sys.argv[2]}.npz', **{f: ans.decode_quantized(f, open(sys.argv[1] + f'/{f}.bin', 'rb')"
            f".read(), p['m'], p['s'], {lo}, {hi}) for f in ans.FAMILIES}})")
    for threads in ("1", "2"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path), threads], check=True,
                       env={"OMP_NUM_THREADS": threads, "PATH": ""})
    a, b = np.load(tmp_path / "out1.npz"), np.load(tmp_path / "out2.npz")
    for family in ans.FAMILIES:
        assert np.array_equal(a[family], k - c) and np.array_equal(b[family], k - c), family
