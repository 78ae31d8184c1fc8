import numpy as np
import pytest

from gscodec.coding import ans
from gscodec.errors import CorruptStreamError, InputError

RNG = np.random.default_rng(0)


def gauss_case(n, sd_lo=0.5, sd_hi=3.0, seed=0):
    r = np.random.default_rng(seed)
    m = r.normal(0, 5, n)
    sd = r.uniform(sd_lo, sd_hi, n)
    return np.round(r.normal(m, sd)).astype(np.int64), m, sd


@pytest.mark.parametrize("n", [0, 1, 1000])
def test_gaussian_round_trip(n):
    s, m, sd = gauss_case(n)
    b = ans.encode_gaussian(s, m, sd, -20, 20)
    out = ans.decode_gaussian(b, m, sd, -20, 20)
    assert out.dtype == np.int32 and np.array_equal(out, s)


def test_gaussian_extreme_stds_outliers_and_constant():
    n = 2000
    m = RNG.normal(0, 3, n)
    sd = RNG.choice([1e-9, 1e-3, 0.02, 1.0, 1e3, 1e12], n)
    s = np.round(m).astype(np.int64)
    s[::97] = RNG.integers(-(2**31), 2**31 - 1, len(s[::97]))  # far outliers both sides
    s[5] = 11
    s[6] = -11
    b = ans.encode_gaussian(s, m, sd, -10, 10)
    assert np.array_equal(ans.decode_gaussian(b, m, sd, -10, 10), s)
    # a constant with a confident model costs next to nothing
    z = np.zeros(10000, np.int64)
    b = ans.encode_gaussian(z, np.zeros(10000), np.full(10000, 0.01), -5, 5)
    assert len(b) < 64 and np.array_equal(ans.decode_gaussian(b, np.zeros(10000), np.full(10000, 0.01), -5, 5), z)


def test_gaussian_snapping_absorbs_float_noise():
    s, m, sd = gauss_case(5000)
    b = ans.encode_gaussian(s, m, sd, -20, 20)
    m2 = np.round(m * 2**16) / 2**16 + 1e-12  # noise far below the grid step
    sd2 = np.round(sd * 2**16) / 2**16 - 1e-12
    assert np.array_equal(ans.decode_gaussian(b, m2, sd2, -20, 20), s)


def test_gaussian_rejects_nan_and_bad_input():
    s, m, sd = gauss_case(10)
    for bad_m, bad_s in ((np.where(np.arange(10) == 3, np.nan, m), sd), (m, np.where(np.arange(10) == 3, np.inf, sd))):
        with pytest.raises(InputError, match="NaN"):
            ans.encode_gaussian(s, bad_m, bad_s, -20, 20)
    with pytest.raises(InputError):
        ans.encode_gaussian(s, m[:5], sd, -20, 20)
    with pytest.raises(InputError):
        ans.encode_gaussian(s + 0.5, m, sd, -20, 20)
    with pytest.raises(InputError):
        ans.encode_gaussian(s, m, sd, 5, -5)
    b = ans.encode_gaussian(s, m, sd, -20, 20)
    with pytest.raises(InputError, match="NaN"):
        ans.decode_gaussian(b, m * np.nan, sd, -20, 20)


def _corrupt_all(data, decode):
    """Each corrupted byte yields CorruptStreamError or a clean (possibly wrong) result."""
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x5A
        try:
            decode(bytes(bad))
        except CorruptStreamError:
            pass
    for n in range(len(data)):
        try:
            decode(data[:n])
        except CorruptStreamError:
            pass
    with pytest.raises(CorruptStreamError):
        decode(data + b"\x01\x00\x00\x00\x07")


def test_corrupted_payloads_never_crash():
    s, m, sd = gauss_case(200)
    s[::50] = 1000
    _corrupt_all(ans.encode_gaussian(s, m, sd, -20, 20), lambda d: ans.decode_gaussian(d, m, sd, -20, 20))
    c = RNG.integers(0, 5, 300)
    f = ans.quantize_pmf(np.bincount(c))
    _corrupt_all(ans.encode_categorical(c, f), lambda d: ans.decode_categorical(d, f, 300))
    q = RNG.integers(0, 9, (100, 3))
    _corrupt_all(ans.encode_channels(q)[0], lambda d: ans.decode_channels(d, 100))


def test_categorical_round_trip_and_pmf_bytes():
    for counts in ([5, 0, 3, 1], [1], [0, 0, 7], RNG.integers(0, 1000, 300)):
        f = ans.quantize_pmf(counts)
        assert f.dtype == np.uint32 and np.all(f[np.asarray(counts) > 0] > 0)
        g, end = ans.pmf_from_bytes(ans.pmf_to_bytes(f) + b"xy")
        assert np.array_equal(f, g) and end == len(ans.pmf_to_bytes(f))
        syms = RNG.choice(np.flatnonzero(np.asarray(counts) > 0), 500)
        assert np.array_equal(ans.decode_categorical(ans.encode_categorical(syms, f), f, 500), syms)
    assert ans.decode_categorical(ans.encode_categorical([], [1, 2]), [1, 2], 0).size == 0
    with pytest.raises(InputError, match="zero frequency"):
        ans.encode_categorical([1], [3, 0])
    with pytest.raises(InputError):
        ans.encode_categorical([2], [3, 1])
    with pytest.raises(CorruptStreamError):
        ans.pmf_from_bytes(b"\xff\xff\xff\xff")
    with pytest.raises(InputError):
        ans.quantize_pmf([1.0, np.nan])


def test_channels_round_trip_and_exact_cost():
    q = np.stack([RNG.integers(0, 256, 5000), np.full(5000, 7), RNG.geometric(0.3, 5000)], 1)
    b, nbits = ans.encode_channels(q)
    assert nbits == 8 * len(b)
    assert np.array_equal(ans.decode_channels(b, 5000), q)
    e, _ = ans.encode_channels(np.zeros((0, 2), np.int64))
    assert ans.decode_channels(e, 0).shape == (0, 2)


def test_bits_round_trip():
    for p in (0.5, 0.01, 0.999, 0.0, 1.0):
        bits = (RNG.random(3000) < p).astype(np.uint8)
        b = ans.encode_bits(bits, p)
        assert np.array_equal(ans.decode_bits(b, p, 3000), bits)
    with pytest.raises(InputError):
        ans.encode_bits([0, 2], 0.5)
    with pytest.raises(InputError):
        ans.encode_bits([0, 1], float("nan"))


def test_coded_size_matches_estimate_100k():
    n, slack = 100_000, 16 * 8
    s = np.minimum(RNG.geometric(0.02, n) - 1, 299)
    f = ans.quantize_pmf(np.bincount(s, minlength=300))
    bits, est = 8 * len(ans.encode_categorical(s, f)), ans.estimate_bits_categorical(s, f)
    assert est <= bits <= est * 1.001 + slack
    b = (RNG.random(n) < 0.1).astype(int)
    bits, est = 8 * len(ans.encode_bits(b, 0.1)), ans.estimate_bits_bits(b, 0.1)
    assert est <= bits <= est * 1.001 + slack
    q = np.stack([RNG.integers(0, 16, n), RNG.geometric(0.1, n)], 1)
    blk, _ = ans.encode_channels(q)
    est = ans.estimate_bits_channels(q)
    assert est <= 8 * len(blk) <= est * 1.001 + slack + 8 * 300  # + stored tables
    s, m, sd = gauss_case(n)
    s[:50] = 100  # escapes
    bits, est = 8 * len(ans.encode_gaussian(s, m, sd, -20, 20)), ans.estimate_bits_gaussian(s, m, sd, -20, 20)
    assert abs(bits - est) <= est * 0.001 + slack
