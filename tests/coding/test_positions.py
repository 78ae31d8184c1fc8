import warnings

import numpy as np
import pytest

from gscodec.coding import positions as P
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene import GaussianScene

RNG = np.random.default_rng(0)


def test_morton_round_trip_full_range():
    q = RNG.integers(0, 1 << 21, (5000, 3))
    assert np.array_equal(P.unmorton(P.morton(q)), q)
    assert P.morton(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])).tolist() == [4, 2, 1]


def test_quantize_dequantize_error_bound():
    xyz = RNG.normal(size=(1000, 3)) * [1, 10, 0.1]
    q, lo, hi = P.quantize_positions(xyz, 16)
    assert q.dtype == np.uint32 and lo.dtype == np.float32 and q.max() == 65535
    err = np.abs(P.dequantize_positions(q, 16, lo, hi) - xyz)
    assert np.all(err <= (hi - lo) / 65535 * 0.51 + 1e-6)
    with pytest.raises(InputError, match="NaN"):
        P.quantize_positions(np.full((2, 3), np.nan), 16)
    with pytest.raises(InputError):
        P.quantize_positions(xyz, 22)


@pytest.mark.parametrize("method", ["buckets", "lzma"])
@pytest.mark.parametrize("n,bits", [(0, 16), (1, 16), (2000, 16), (2000, 1), (500, 21)])
def test_round_trip(method, n, bits):
    q = RNG.integers(0, 1 << bits, (n, 3)).astype(np.uint32)
    b, order = P.encode_positions(q, bits, methods=(method,))
    out = P.decode_positions(b)
    assert out.dtype == np.uint32 and np.array_equal(out, q[order])
    assert sorted(order.tolist()) == list(range(n))


def test_duplicates_and_constant_points():
    q = np.repeat(RNG.integers(0, 1 << 16, (50, 3)), 20, axis=0)
    b, order = P.encode_positions(q, 16)
    assert np.array_equal(P.decode_positions(b), q[order])
    z = np.zeros((10000, 3), np.uint32)
    b, order = P.encode_positions(z, 16)
    assert len(b) < 100 and np.array_equal(P.decode_positions(b), z)


def test_beats_raw_on_random_scene():
    xyz = GaussianScene.random(100_000).means.numpy()
    q, _, _ = P.quantize_positions(xyz, 16)
    b, order = P.encode_positions(q, 16)
    bpp = 8 * len(b) / len(q)
    assert bpp < 34  # raw is 48; the information bound is about 48 - log2(N) + 1.44 = 32.8
    assert np.array_equal(P.decode_positions(b), q[order])


def test_real_scene(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gscodec.scene import load_ply

        scene = load_ply(shared_data / "small_sh3.ply")
    q, _, _ = P.quantize_positions(scene.means.numpy(), 16)
    b, order = P.encode_positions(q, 16)
    assert 8 * len(b) / len(q) < 34
    assert np.array_equal(P.decode_positions(b), q[order])


def test_input_checks():
    with pytest.raises(InputError):
        P.encode_positions(np.array([[0, 0, 70000]]), 16)
    with pytest.raises(InputError):
        P.encode_positions(np.zeros((3, 3)), 16)
    with pytest.raises(InputError):
        P.encode_positions(np.zeros((3, 2), np.int64), 16)


@pytest.mark.parametrize("method", ["buckets", "lzma"])
def test_corruption_never_crashes(method):
    q = RNG.integers(0, 1 << 12, (60, 3))
    b, _ = P.encode_positions(q, 12, methods=(method,))
    for i in range(len(b)):
        bad = bytearray(b)
        bad[i] ^= 0x21
        try:
            out = P.decode_positions(bytes(bad), max_points=10_000)
            assert out.shape[1] == 3 and out.max(initial=0) < 1 << 21
        except CorruptStreamError:
            pass
    for n in range(len(b)):
        with pytest.raises(CorruptStreamError):
            P.decode_positions(b[:n])
    with pytest.raises(CorruptStreamError):
        P.decode_positions(b + b"\x00")
