"""The .gsz container: a JSON header plus named, checksummed binary sections.

Layout (all integers little endian):

    magic  b"GSZ\\x00"                                     4
    format version                               u16     2
    header length H                              u32     4
    header: UTF-8 JSON object                            H
    header CRC32 (over version..header)          u32     4
    section count S                              u32     4
    table: S x (name len u8, name, method len u8, method, payload length u64, CRC32 u32)
    table CRC32 (over count..table)              u32     4
    payloads, in table order
    file CRC32 (over everything before it)       u32     4

Why so many checks: a decoder must refuse any damaged or hostile file with one clear
CorruptStreamError *before* it allocates or slices anything sized by the file, so every
length is checked against the bytes actually present, and counts/name lengths are capped.
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass

from gscodec.errors import CorruptStreamError, InputError
from gscodec.utils.io import atomic_write_bytes

MAGIC = b"GSZ\x00"
FORMAT_VERSION = 1
MAX_SECTIONS = 1024
MAX_NAME = 64
MAX_HEADER = 16 << 20
DEFAULT_MAX_SIZE = 8 << 30


@dataclass(frozen=True)
class Section:
    """One named payload; `method` says how the payload was coded (e.g. "ans-gauss")."""

    name: str
    method: str
    data: bytes


def _crc(b: bytes) -> int:
    return zlib.crc32(b) & 0xFFFFFFFF


def _ascii_field(s: str, what: str) -> bytes:
    if not isinstance(s, str):
        raise InputError(f"section {what} must be a str, got {type(s).__name__}")
    b = s.encode("utf-8")
    if not 1 <= len(b) <= MAX_NAME:
        raise InputError(f"section {what} {s!r} must be 1..{MAX_NAME} bytes of UTF-8")
    return b


def _check_json(obj, path="header") -> None:
    """Only plain JSON types, finite floats, str keys (so the header round-trips exactly)."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise InputError(f"{path} is {obj}; the .gsz header only stores finite numbers")
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_json(v, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise InputError(f"{path} has a non-string key {k!r}")
            _check_json(v, f"{path}.{k}")
        return
    raise InputError(f"{path} has a {type(obj).__name__}, which is not JSON-serialisable")


def pack(header: dict, sections: list[Section]) -> bytes:
    """Serialise a header dict and sections into .gsz bytes."""
    if not isinstance(header, dict):
        raise InputError(f"header must be a dict, got {type(header).__name__}")
    _check_json(header)
    hdr = json.dumps(header, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("utf-8")
    if len(hdr) > MAX_HEADER:
        raise InputError(f"header is {len(hdr)} bytes; the limit is {MAX_HEADER}")
    if len(sections) > MAX_SECTIONS:
        raise InputError(f"{len(sections)} sections; the limit is {MAX_SECTIONS}")
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise InputError(f"section names must be unique, got {names}")
    head = struct.pack("<HI", FORMAT_VERSION, len(hdr)) + hdr
    table = [struct.pack("<I", len(sections))]
    for s in sections:
        if not isinstance(s.data, (bytes, bytearray, memoryview)):
            raise InputError(f"section {s.name!r} data must be bytes, got {type(s.data).__name__}")
        n, m = _ascii_field(s.name, "name"), _ascii_field(s.method, "method")
        table.append(struct.pack("<B", len(n)) + n + struct.pack("<B", len(m)) + m)
        table.append(struct.pack("<QI", len(s.data), _crc(bytes(s.data))))
    tbl = b"".join(table)
    body = MAGIC + head + struct.pack("<I", _crc(head)) + tbl + struct.pack("<I", _crc(tbl))
    body += b"".join(bytes(s.data) for s in sections)
    return body + struct.pack("<I", _crc(body))


class _Reader:
    """Bounds-checked cursor: every read states what it is for the error message."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > len(self.data) - self.pos:
            raise CorruptStreamError(
                f"{what} needs {n} bytes at offset {self.pos}, but the file has only {len(self.data) - self.pos} left"
            )
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]


def unpack(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> tuple[dict, dict[str, Section]]:
    """Parse and fully verify .gsz bytes; returns (header, sections by name, in file order)."""
    data = bytes(data)
    if len(data) > max_size:
        raise CorruptStreamError(f"file is {len(data)} bytes, above the limit of {max_size}")
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise CorruptStreamError("not a .gsz file (bad magic bytes)")
    if len(data) < len(MAGIC) + 4 + 6 + 4 + 4 + 4:
        raise CorruptStreamError(f"file too short for a .gsz container ({len(data)} bytes)")
    r = _Reader(data)
    r.pos = len(MAGIC)
    version = r.u("H", "format version")
    if version > FORMAT_VERSION:
        raise CorruptStreamError(
            f"written by a newer gscodec format v{version}; this reader supports <= v{FORMAT_VERSION}"
        )
    if version < 1:
        raise CorruptStreamError(f"invalid format version {version}")
    hlen = r.u("I", "header length")
    if hlen > MAX_HEADER:
        raise CorruptStreamError(f"header length {hlen} exceeds the limit of {MAX_HEADER}")
    hdr = r.take(hlen, "header")
    if r.u("I", "header CRC") != _crc(data[len(MAGIC) : r.pos - 4]):
        raise CorruptStreamError("header CRC mismatch (header is corrupted)")
    from gscodec.coding.schema import parse_json

    header = parse_json(hdr)  # nesting and size bounded
    tstart = r.pos
    count = r.u("I", "section count")
    if count > MAX_SECTIONS:
        raise CorruptStreamError(f"section count {count} exceeds the limit of {MAX_SECTIONS}")
    entries = []
    for i in range(count):
        nlen = r.u("B", f"section {i} name length")
        if not 1 <= nlen <= MAX_NAME:
            raise CorruptStreamError(f"section {i} name length {nlen} is outside 1..{MAX_NAME}")
        raw_name = r.take(nlen, f"section {i} name")
        mlen = r.u("B", f"section {i} method length")
        if not 1 <= mlen <= MAX_NAME:
            raise CorruptStreamError(f"section {i} method length {mlen} is outside 1..{MAX_NAME}")
        raw_method = r.take(mlen, f"section {i} method")
        size, crc = r.u("Q", f"section {i} length"), r.u("I", f"section {i} CRC")
        entries.append((i, raw_name, raw_method, size, crc))
    tend = r.pos
    if r.u("I", "section table CRC") != _crc(data[tstart:tend]):
        raise CorruptStreamError("section table CRC mismatch (table is corrupted)")
    left = len(data) - r.pos - 4
    total = sum(e[3] for e in entries)
    if total != left:
        raise CorruptStreamError(
            f"sections declare {total} payload bytes but the file holds {left}"
            + (" (truncated)" if total > left else " (trailing bytes after the last section)")
        )
    if _crc(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise CorruptStreamError("whole-file CRC mismatch")
    sections: dict[str, Section] = {}
    for i, raw_name, raw_method, size, crc in entries:
        try:
            name, method = raw_name.decode("utf-8"), raw_method.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptStreamError(f"section {i} name/method is not UTF-8") from None
        if name in sections:
            raise CorruptStreamError(f"duplicate section name {name!r}")
        payload = r.take(size, f"section {name!r} payload")
        if _crc(payload) != crc:
            raise CorruptStreamError(f"section {name!r} CRC mismatch (payload is corrupted)")
        sections[name] = Section(name, method, payload)
    return header, sections


def write_gsz(path: str | os.PathLike, header: dict, sections: list[Section]) -> int:
    """Pack and write atomically; returns the file size in bytes."""
    data = pack(header, sections)
    atomic_write_bytes(path, data)
    return len(data)


def read_gsz(path: str | os.PathLike, *, max_size: int = DEFAULT_MAX_SIZE) -> tuple[dict, dict[str, Section]]:
    """Read and verify a .gsz file (size checked before reading)."""
    try:
        size = os.path.getsize(path)
        if size > max_size:
            raise CorruptStreamError(f"{path}: {size} bytes is above the limit of {max_size}")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return unpack(data, max_size=max_size)
    except CorruptStreamError as e:
        raise CorruptStreamError(f"{path}: {e}") from None


def describe(data: bytes) -> list[tuple[str, str, int, float]]:
    """(name, method, bytes, share of the file) per section, for `gscodec info`."""
    _, sections = unpack(data)
    total = max(len(data), 1)
    return [(s.name, s.method, len(s.data), len(s.data) / total) for s in sections.values()]
