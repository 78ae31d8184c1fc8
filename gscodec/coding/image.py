"""Lossless coding of attribute images (the gsplat / SOGS "sorted grid as images" layout).

After 3D-to-2D sorting each attribute is a smooth [H,W] or [H,W,C] image; standard lossless
image codecs then exploit the local similarity (PNG filters, WebP/JXL prediction).

Methods: "png" (Pillow with optimize where it supports the mode, libpng via imagecodecs for
multi-channel uint16), "webp" (lossless, uint8 only), "jxl" (lossless JPEG XL, uint8/uint16),
"auto" (encodes with every available method that supports the input, keeps the smallest).

Shape conventions: an [H,W,1] input is coded as [H,W] and decodes to [H,W]. PNG and JXL
streams are plain files of their format. WebP has no gray or 2-channel mode, so the WebP
stream is one byte (the original channel count, 0 for a 2-D image) followed by an RGB/RGBA
WebP file where gray is replicated to RGB and 2 channels are padded with a zero channel.
Every encode decodes its own output and compares: lossless is a promise, not a hope.
"""
from __future__ import annotations

import io

import numpy as np

from gscodec.errors import InputError

try:
    import imagecodecs
except ImportError:  # pragma: no cover - imagecodecs is a dependency, Pillow alone still gives PNG
    imagecodecs = None

METHODS = ("png", "webp", "jxl")
WEBP_METHOD = 4  # libwebp effort 0..6: 6 is ~10x slower for ~1-3% smaller files
JXL_EFFORT = 7  # libjxl effort 1..9: 7 is the default; 9 is ~5x slower and not smaller here


def _has(codec: str) -> bool:
    return imagecodecs is not None and getattr(imagecodecs, codec).available


def available_methods() -> tuple[str, ...]:
    """Concrete methods usable on this install (png always, via Pillow)."""
    return tuple(m for m in METHODS if m == "png" or _has({"webp": "WEBP", "jxl": "JPEGXL"}[m]))


def _check(arr) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(arr).__name__}")
    if arr.dtype not in (np.uint8, np.uint16):
        raise InputError(f"image dtype must be uint8 or uint16, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and not 1 <= arr.shape[2] <= 4):
        raise InputError(f"image must be [H,W] or [H,W,C] with C in 1..4, got shape {list(arr.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"image must not be empty, got shape {list(arr.shape)}")
    return np.ascontiguousarray(arr)


def _supports(method: str, arr: np.ndarray) -> bool:
    return not (method == "webp" and arr.dtype != np.uint8)


# ---- per-method codecs ----------------------------------------------------------------
def _png_encode(arr: np.ndarray) -> bytes:
    if arr.dtype == np.uint16 and arr.ndim == 3 or imagecodecs is None and arr.dtype == np.uint16:
        if not _has("PNG"):
            raise InputError("multi-channel uint16 PNG needs imagecodecs with libpng")
        return bytes(imagecodecs.png_encode(arr, level=9))
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


MAX_PIXELS = 1 << 26


def _png_decode(data: bytes) -> np.ndarray:
    if len(data) >= 24 and data[12:16] == b"IHDR":  # the size it declares, before libpng allocates it
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if w * h > MAX_PIXELS:
            raise InputError(f"corrupt png image stream: {w} x {h} pixels is above the limit of {MAX_PIXELS}")
    if _has("PNG"):
        return imagecodecs.png_decode(data)
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def _webp_encode(arr: np.ndarray) -> bytes:
    c = 0 if arr.ndim == 2 else arr.shape[2]
    if c in (0, 1):
        rgb = np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=2)
    elif c == 2:
        rgb = np.concatenate([arr, np.zeros_like(arr[:, :, :1])], axis=2)
    else:
        rgb = arr
    body = imagecodecs.webp_encode(np.ascontiguousarray(rgb), level=100, lossless=True, method=WEBP_METHOD)
    return bytes([c]) + bytes(body)


def _check_pixels(kind: str, size: tuple[int, int] | None) -> None:
    """The size an image declares, checked before its library allocates it (#22: a forged
    header of a few bytes must not make the decoder allocate gigabytes)."""
    if size is None:
        raise InputError(f"corrupt {kind} image stream: its header does not say its size")
    w, h = size
    if w * h > MAX_PIXELS:
        raise InputError(f"corrupt {kind} image stream: {w} x {h} pixels is above the limit of {MAX_PIXELS}")


def webp_size(riff: bytes) -> tuple[int, int] | None:
    """(width, height) from a WebP file's first chunk (VP8L lossless, VP8X extended, VP8 lossy)."""
    if len(riff) < 30 or riff[:4] != b"RIFF" or riff[8:12] != b"WEBP":
        return None
    kind = riff[12:16]
    if kind == b"VP8L" and riff[20] == 0x2F:
        v = int.from_bytes(riff[21:25], "little")
        return (v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        return int.from_bytes(riff[24:27], "little") + 1, int.from_bytes(riff[27:30], "little") + 1
    if kind == b"VP8 " and riff[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(riff[26:28], "little") & 0x3FFF, int.from_bytes(riff[28:30], "little") & 0x3FFF
    return None


def jxl_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG XL codestream's SizeHeader (ISO/IEC 18181-1 D.2), bare or in
    the ISOBMFF container's first jxlc / jxlp box."""
    code = data
    if data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        code, pos = None, 0
        while pos + 8 <= len(data) and code is None:
            size, box = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
            if size < 8:
                return None  # 0 (to the end) and 1 (64-bit sizes) are not written by our encoder
            if box == b"jxlc":
                code = data[pos + 8:pos + size]
            elif box == b"jxlp":
                code = data[pos + 12:pos + size]
            pos += size
        if code is None:
            return None
    if len(code) < 2 or code[:2] != b"\xff\x0a":
        return None
    bits = int.from_bytes(code[2:14], "little")  # the SizeHeader fits in 12 bytes
    pos = 0

    def u(n: int) -> int:
        nonlocal pos
        v = (bits >> pos) & ((1 << n) - 1)
        pos += n
        return v

    def dim(small: bool) -> int:
        return (u(5) + 1) * 8 if small else u((9, 13, 18, 30)[u(2)]) + 1

    small = bool(u(1))
    h = dim(small)
    ratio = u(3)
    num, den = ((1, 1), (12, 10), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1))[ratio - 1] if ratio else (0, 1)
    return (h * num // den if ratio else dim(small)), h


def _webp_decode(data: bytes) -> np.ndarray:
    if len(data) < 2 or data[0] > 4:
        raise InputError("corrupt WebP image stream (bad channel byte)")
    _check_pixels("WebP", webp_size(data[1:]))
    c = data[0]
    rgb = imagecodecs.webp_decode(data[1:], hasalpha=c == 4)
    if c == 0:
        return np.ascontiguousarray(rgb[:, :, 0])
    return np.ascontiguousarray(rgb[:, :, :c])


def _jxl_encode(arr: np.ndarray) -> bytes:
    return bytes(imagecodecs.jpegxl_encode(arr, lossless=True, effort=JXL_EFFORT, numthreads=1))


def _jxl_decode(data: bytes) -> np.ndarray:
    _check_pixels("JPEG XL", jxl_size(data))
    return imagecodecs.jpegxl_decode(data, numthreads=1)


_ENC = {"png": _png_encode, "webp": _webp_encode, "jxl": _jxl_encode}
_DEC = {"png": _png_decode, "webp": _webp_decode, "jxl": _jxl_decode}


def _method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"unknown image method {method!r}; expected one of {', '.join(METHODS)} or 'auto'")
    if method not in available_methods():
        raise InputError(f"image method {method!r} is not available (imagecodecs lacks it)")
    return method


# ---- public API -----------------------------------------------------------------------
def encode_image(arr: np.ndarray, method: str = "auto") -> tuple[bytes, str]:
    """Losslessly encode `arr` ([H,W] or [H,W,C], C<=4, uint8/uint16); return (bytes, method used).

    "auto" tries every available method that supports the dtype and keeps the smallest.
    """
    arr = _check(arr)
    if method == "auto":
        cands = [m for m in available_methods() if _supports(m, arr)]
    else:
        cands = [_method(method)]
        if not _supports(cands[0], arr):
            raise InputError(f"image method {method!r} does not support dtype {arr.dtype}")
    best: tuple[bytes, str] | None = None
    for m in cands:
        data = _ENC[m](arr)
        if best is None or len(data) < len(best[0]):
            best = (data, m)
    data, m = best
    back = decode_image(data, m)
    if back.shape != arr.shape or back.dtype != arr.dtype or not np.array_equal(back, arr):
        raise AssertionError(f"{m} image round trip is not lossless for shape {arr.shape} {arr.dtype}")
    return data, m


def decode_image(data: bytes, method: str) -> np.ndarray:
    """Decode bytes produced by encode_image with the method it returned."""
    m = _method(method)
    try:
        out = _DEC[m](bytes(data))
    except InputError:
        raise
    except Exception as exc:  # codec libraries raise their own error types on corrupt data
        raise InputError(f"corrupt {m} image stream: {exc}") from None
    out = np.asarray(out)
    if out.ndim == 3 and out.shape[2] == 1:
        out = out[:, :, 0]
    return np.ascontiguousarray(out)


__all__ = ["encode_image", "decode_image", "available_methods", "METHODS"]
