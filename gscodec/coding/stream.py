"""What every codec's stream code shares, so no codec copies it: required sections, header
counts read within limits, the codec/version check, exact-size raw arrays, u32-length
frames and tensor tables (decoder MLPs). Each refuses a damaged or hostile stream with one
CorruptStreamError before anything sized by the stream is allocated."""
from __future__ import annotations

import struct
from contextlib import contextmanager

import numpy as np
import torch

from gscodec.coding.container import Section
from gscodec.errors import CorruptStreamError, InputError

MAX_TENSORS = 256
MAX_TENSOR_VALUES = 1 << 26
_DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
           "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}


# ---- header ---------------------------------------------------------------------------------
def need_section(sections: dict, name: str) -> Section:
    if name not in sections:
        raise CorruptStreamError(f"stream lacks section {name!r}")
    return sections[name]


def need(sections: dict, name: str) -> bytes:
    """The payload of a section the stream must have."""
    return need_section(sections, name).data


def read_count(header: dict, key: str, lo: int, hi: int) -> int:
    """An integer header field within [lo, hi]."""
    try:
        v = header[key]
    except KeyError:
        raise CorruptStreamError(f"header lacks {key!r}") from None
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise CorruptStreamError(f"header {key}={v!r} is outside {lo}..{hi}")
    return v


def check_codec(header: dict, name: str, version: int) -> int:
    """The stream's codec must be `name` and its version no newer than `version`."""
    if header.get("codec") != name:
        raise CorruptStreamError(f"stream is codec {header.get('codec')!r}, not {name!r}")
    v = read_count(header, "codec_version", 1, 1 << 16)
    if v > version:
        raise CorruptStreamError(f"{name} stream version {v} is newer than this decoder ({version})")
    return v


@contextmanager
def header_fields(codec: str):
    """Reading a codec's header fields: a missing or mistyped one is one CorruptStreamError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise CorruptStreamError(f"{codec} header is incomplete or malformed ({e!r})") from None


# ---- payloads -------------------------------------------------------------------------------
def raw_array(data: bytes, dtype: str, shape: tuple, what: str) -> np.ndarray:
    """A little-endian array whose byte length must match the shape exactly."""
    dt = np.dtype(dtype).newbyteorder("<")
    n = int(np.prod(shape, dtype=np.int64))
    if len(data) != n * dt.itemsize:
        raise CorruptStreamError(f"{what}: {len(data)} bytes, expected {n * dt.itemsize} for shape {list(shape)}")
    return np.frombuffer(data, dt).astype(dt.newbyteorder("=")).reshape(shape)


def frame(parts: list[bytes], *, counted: bool = True) -> bytes:
    """Parts as (u32 length, bytes) each, after a u32 count unless the header holds the count."""
    body = b"".join(struct.pack("<I", len(p)) + p for p in parts)
    return struct.pack("<I", len(parts)) + body if counted else body


def unframe(data: bytes, what: str, count: int | None = None) -> list[bytes]:
    """Inverse of frame: with count=None the count is read from the payload (frame(counted=True)).
    Every length is checked against the bytes left; nothing may follow the last part."""
    off = 0
    if count is None:
        if len(data) < 4:
            raise CorruptStreamError(f"section {what!r} is truncated")
        (count,) = struct.unpack_from("<I", data, 0)
        off = 4
    out = []
    for _ in range(count):
        if off + 4 > len(data):
            raise CorruptStreamError(f"section {what!r}: part table truncated")
        (ln,) = struct.unpack_from("<I", data, off)
        if ln > len(data) - off - 4:
            raise CorruptStreamError(f"section {what!r}: part of {ln} bytes exceeds the {len(data) - off - 4} left")
        out.append(data[off + 4 : off + 4 + ln])
        off += 4 + ln
    if off != len(data):
        raise CorruptStreamError(f"section {what!r}: {len(data) - off} stray bytes after the parts")
    return out


# ---- tensor tables (e.g. a decoder's MLPs) ---------------------------------------------------
SIGN = "sign"  # stored dtype of a float tensor whose values are all +-1 (binarized tables): 1 bit each
SIGN_ANS = "sign-ans"  # the same signs Bernoulli-coded with their fraction of +1: [name, shape, SIGN_ANS, p, nbytes]


def _signs(t: torch.Tensor) -> tuple[bytes, list]:
    """A +-1 tensor as its signs, Bernoulli-coded with p = fraction of +1 (float32, as sent)
    where that is smaller than packing them one bit each (a skewed binarized table)."""
    from gscodec.coding import ans

    bits = (t.reshape(-1) > 0).numpy().astype(np.uint8)
    packed = np.packbits(bits).tobytes()
    p = float(np.float32(bits.mean()))
    coded = ans.encode_bits(bits, p) if 0 < p < 1 else None
    if coded is not None and len(coded) < len(packed):
        return coded, [SIGN_ANS, p, len(coded)]
    return packed, [SIGN]


def _sign_ans_entry(name: str, count: int, extra) -> tuple[float, int]:
    """p and payload size of a SIGN_ANS entry, refused unless the payload can hold `count`
    Bernoulli symbols at that p (so a tiny hostile section cannot ask for a huge table)."""
    from gscodec.coding import ans

    try:
        p, nbytes = float(extra[0]), int(extra[1])
    except (TypeError, ValueError, IndexError):
        raise CorruptStreamError(f"tensor {name!r}: sign-ans entry lacks p / size") from None
    if not (0 < p < 1) or nbytes < 0:
        raise CorruptStreamError(f"tensor {name!r}: sign-ans probability {p} or size {nbytes} is invalid")
    f = ans.bit_freqs(p)
    least = -np.log2(f.max() / 65536.0)  # fewest bits one symbol can cost
    if count * least > 8 * nbytes + 64:
        raise CorruptStreamError(f"tensor {name!r}: {count} signs cannot fit in {nbytes} bytes at p={p}")
    return p, nbytes


def pack_tensors(state: dict, float_dtype: str) -> tuple[bytes, list]:
    """Tensors in sorted name order: floats as `float_dtype` (as sign bits when every value
    is exactly +-1, e.g. a binarized hash table: Bernoulli-coded when that is smaller, else
    packed), others raw. Returns (bytes, table of [name, shape, stored dtype(, p, nbytes)])
    for the header."""
    if float_dtype not in ("float16", "float32"):
        raise InputError(f"MLP precision must be float16 or float32, got {float_dtype!r}")
    chunks, table = [], []
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, torch.Tensor):
            raise InputError(f"tensor {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().cpu()
        if t.is_floating_point() and t.numel() and bool((t.abs() == 1).all()):
            data, how = _signs(t)
            chunks.append(data)
            table.append([name, list(t.shape), *how])
            continue
        if t.is_floating_point():
            dt = float_dtype
        else:
            dt = str(t.dtype).replace("torch.", "")
            if dt not in _DTYPES:
                raise InputError(f"tensor {name!r} has unsupported dtype {t.dtype}")
        a = t.to(_DTYPES[dt]).numpy()
        chunks.append(a.astype(a.dtype.newbyteorder("<")).tobytes())
        table.append([name, list(t.shape), dt])
    return b"".join(chunks), table


def unpack_tensors(data: bytes, table) -> dict[str, torch.Tensor]:
    """Inverse of pack_tensors; floats come back as float32. Sizes are checked against the
    bytes present before anything is allocated."""
    if not isinstance(table, list) or len(table) > MAX_TENSORS:
        raise CorruptStreamError("tensor table is malformed or too long")
    specs, total = [], 0
    for e in table:
        try:
            name, shape, dt, *extra = e if len(e) >= 3 else (*e, "float32")  # [name, shape]: float32
            shape = [int(s) for s in shape]
        except (TypeError, ValueError):
            raise CorruptStreamError(f"tensor entry {str(e)[:80]!r} is malformed") from None
        known = isinstance(dt, str) and (dt in _DTYPES or dt in (SIGN, SIGN_ANS))
        if not isinstance(name, str) or not known or len(shape) > 8 or any(not 0 <= s <= MAX_TENSOR_VALUES for s in shape) \
                or len(extra) != (2 if dt == SIGN_ANS else 0):
            raise CorruptStreamError(f"tensor entry {str(e)[:80]!r} is invalid")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > MAX_TENSOR_VALUES:
            raise CorruptStreamError(f"tensor {name!r} declares {count} values")
        p = None
        if dt == SIGN_ANS:
            p, nbytes = _sign_ans_entry(name, count, extra)
        elif dt == SIGN:
            nbytes = (count + 7) // 8
        else:
            nbytes = count * torch.empty(0, dtype=_DTYPES[dt]).element_size()
        specs.append((name, shape, dt, count, nbytes, p))
        total += nbytes
    if total != len(data):
        raise CorruptStreamError(f"tensor section holds {len(data)} bytes, the header declares {total}")
    out, off = {}, 0
    for name, shape, dt, count, nbytes, p in specs:
        if dt == SIGN_ANS:
            from gscodec.coding import ans

            bits = ans.decode_bits(data[off : off + nbytes], p, count)  # CorruptStreamError if it does not decode
            out[name] = torch.from_numpy(bits.astype(np.float32) * 2 - 1).reshape(shape)
            off += nbytes
            continue
        if dt == SIGN:
            bits = np.unpackbits(np.frombuffer(data, np.uint8, count=nbytes, offset=off))[:count]
            out[name] = torch.from_numpy(bits.astype(np.float32) * 2 - 1).reshape(shape)
            off += nbytes
            continue
        np_dt = np.dtype(bool) if dt == "bool" else np.dtype(dt).newbyteorder("<")
        a = np.frombuffer(data, np_dt, count=count, offset=off).astype(np_dt.newbyteorder("="))
        t = torch.from_numpy(a.copy()).reshape(shape)
        out[name] = t.to(torch.float32) if t.is_floating_point() else t
        off += nbytes
    return out


__all__ = ["check_codec", "frame", "header_fields", "need", "need_section", "pack_tensors", "raw_array",
           "read_count", "unframe", "unpack_tensors"]
