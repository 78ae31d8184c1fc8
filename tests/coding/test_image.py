"""Lossless image coding: exact round trips, auto picks the smallest, bad input refused."""
import numpy as np
import pytest

from gscodec.coding.image import available_methods, decode_image, encode_image
from gscodec.errors import InputError


def _smooth(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    top = np.iinfo(dtype).max
    base = (np.sin(x / 7.0) + np.cos(y / 5.0) + 2) / 4 * top
    if len(shape) == 3:
        base = base[..., None] * (1 + np.arange(shape[2]))[None, None] / shape[2]
    noise = rng.integers(-3, 4, size=shape)
    return np.clip(base + noise, 0, top).astype(dtype)


@pytest.mark.parametrize("method", ["png", "webp", "jxl"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [0, 1, 2, 3, 4])
def test_round_trip_exact(method, dtype, channels):
    if method not in available_methods():
        pytest.skip(f"{method} not available in this imagecodecs build")
    shape = (13, 17) if channels == 0 else (13, 17, channels)
    arr = _smooth(shape, dtype)
    if method == "webp" and dtype == np.uint16:
        with pytest.raises(InputError, match="does not support"):
            encode_image(arr, method)
        return
    data, used = encode_image(arr, method)
    assert used == method
    back = decode_image(data, used)
    want = arr[:, :, 0] if channels == 1 else arr  # [H,W,1] is coded as [H,W]
    assert back.dtype == arr.dtype and back.shape == want.shape
    assert np.array_equal(back, want)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_auto_picks_smallest(dtype):
    arr = _smooth((40, 50, 3), dtype, seed=1)
    data, used = encode_image(arr, "auto")
    sizes = {m: len(encode_image(arr, m)[0]) for m in available_methods() if not (m == "webp" and dtype == np.uint16)}
    assert len(data) == min(sizes.values()) and sizes[used] == len(data)
    assert np.array_equal(decode_image(data, used), arr)


def test_extreme_values_and_tiny_image():
    for arr in (np.zeros((1, 1), np.uint8), np.full((2, 3, 4), 255, np.uint8), np.full((3, 2), 65535, np.uint16)):
        data, used = encode_image(arr)
        assert np.array_equal(decode_image(data, used), arr)


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((4, 4), np.float32),
        np.zeros((4, 4), np.int16),
        np.zeros((4,), np.uint8),
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((0, 4), np.uint8),
        np.zeros((2, 2, 2, 2), np.uint8),
        [[1, 2], [3, 4]],
    ],
)
def test_bad_input_refused(arr):
    with pytest.raises(InputError):
        encode_image(arr)


def test_unknown_method_refused():
    arr = np.zeros((4, 4), np.uint8)
    with pytest.raises(InputError, match="unknown image method"):
        encode_image(arr, "gif")
    with pytest.raises(InputError, match="unknown image method"):
        decode_image(b"\x89PNG", "bmp")


@pytest.mark.parametrize("method", ["png", "webp", "jxl"])
def test_corrupt_data_refused(method):
    if method not in available_methods():
        pytest.skip(f"{method} not available")
    arr = _smooth((16, 16, 3), np.uint8)
    data, _ = encode_image(arr, method)
    for bad in (b"", b"\x00" * 10, data[: len(data) // 2], b"garbage" + data[7:]):
        with pytest.raises(InputError):
            decode_image(bad, method)


@pytest.mark.parametrize("shape", [(37, 53, 3), (64, 64), (8, 16, 4), (100, 200), (90, 160), (1000, 3, 3)])
def test_declared_sizes_are_read_before_decoding(shape):
    """WebP and JPEG XL sizes parsed from their headers, as libwebp / libjxl would allocate them."""
    import imagecodecs

    from gscodec.coding.image import jxl_size, webp_size

    a = np.random.default_rng(0).integers(0, 255, shape).astype(np.uint8)
    rgb = a if a.ndim == 3 and a.shape[2] >= 3 else np.repeat(a.reshape(*a.shape[:2], -1)[:, :, :1], 3, 2)
    assert jxl_size(bytes(imagecodecs.jpegxl_encode(a, lossless=True))) == (shape[1], shape[0])
    assert webp_size(bytes(imagecodecs.webp_encode(rgb, lossless=True))) == (shape[1], shape[0])
    assert webp_size(bytes(imagecodecs.webp_encode(rgb, level=50))) == (shape[1], shape[0])  # lossy VP8


def test_forged_image_sizes_are_refused_before_the_library_allocates():
    from gscodec.coding.image import decode_image, encode_image

    a = np.zeros((16, 16, 3), np.uint8)
    webp = bytearray(encode_image(a, "webp")[0])
    webp[1 + 21:1 + 25] = (0x3FFF | (0x3FFF << 14)).to_bytes(4, "little")  # 16384 x 16384 declared
    with pytest.raises(InputError, match="above the limit"):
        decode_image(bytes(webp), "webp")
    jxl = bytearray(encode_image(a, "jxl")[0])
    jxl[2:6] = ((0b11 << 1) | ((2**30 - 1) << 3)).to_bytes(5, "little")[:4]  # a 2^30-row SizeHeader
    with pytest.raises(InputError, match="corrupt JPEG XL"):
        decode_image(bytes(jxl), "jxl")
