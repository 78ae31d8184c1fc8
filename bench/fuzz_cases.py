"""Hostile streams made from a valid one, and what decoding each one did.

Shared by the suite's fuzz (tests/codecs/test_fuzz_streams.py, in process, a few hundred
cases) and bench/fuzz.py (tens of thousands, each under a memory and time limit). A case is
fully determined by (codec, category, index), so a failure can be replayed from its id:
    python bench/fuzz.py --replay CODEC:CATEGORY:INDEX
Every forgery recomputes the CRCs the container checks, so it reaches the decoder (except
the 'truncate' category, which is the container's to refuse).
"""
from __future__ import annotations

import copy
import json
import random
import struct
import zlib
from pathlib import Path

import numpy as np

from gscodec.coding import container
from gscodec.coding.container import Section

SEEDS = Path(__file__).resolve().parents[1] / "tests" / "codecs" / "data" / "fuzz"
CODECS = ("ptc", "ptc-neighbour", "gsplat-png", "static-gscodec", "static-gscodec-learned", "hac", "scaffold-raw", "predict-gs", "mop",
          "hemgs", "combined", "dynamic-gscodec", "dynamic-gscodec-learned")  # seed streams (tests/codecs/data/fuzz)
CATEGORIES = ("header", "payload", "table", "truncate")
BOUNDARY = ("the stream is malformed (", "the stream would need more memory")  # decode_bytes' catch-all

# values a forged header field takes: wrong types, signs, sizes, nesting, huge numbers
VALUES = [-1, 0, 1, 2, 3, 7, 15, 16, 17, 31, 32, 64, 255, 256, 65535, 65536, 1 << 20, 1 << 24, 1 << 28, 1 << 31,
          (1 << 31) - 1, 1 << 32, 1 << 40, 1 << 63, -(1 << 63), 10**30, 1.5, -0.5, 1e-300, 1e300, -1e300, 0.0, True,
          False, None, "", "x", "float16", "raw", "gaussian", "entropy", "image", "kmeans", "scalar", "hac", [], {},
          [0], [1, 2], [0, 0, 0], [[0]], [-1, -1], [1 << 30] * 3, {"a": 1}, "\u00e9" * 40, [[[[[[1]]]]]]]


def load_seed(codec: str) -> bytes:
    return (SEEDS / f"{codec}.gsz").read_bytes()


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        idx = range(len(node)) if len(node) <= 16 else (0, 1, len(node) - 1)
        for i in idx:
            yield from _paths(node[i], prefix + (i,))


def _nested(depth: int):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


def _hostile_value(rng: random.Random, old):
    r = rng.random()
    if r < 0.55:
        return copy.deepcopy(rng.choice(VALUES))
    if isinstance(old, bool):
        return not old
    if isinstance(old, int) and r < 0.85:
        return rng.choice([old + 1, old - 1, old * 2, old * 1000, -old, old ^ (1 << rng.randrange(40)), old // 2])
    if isinstance(old, float) and r < 0.85:
        return rng.choice([old * 1e30, -old, old + 1, 0.0, old * 1e-30])
    if isinstance(old, list) and r < 0.85:
        return rng.choice([old[:-1], old + old[-1:] if old else [0], old[::-1], [old], old * 64])
    if isinstance(old, str) and r < 0.85:
        return rng.choice([old + "x", old.upper(), old[:-1], old * 3])
    return _nested(rng.choice([20, 40, 150]))


def _set(node, path, value, delete=False):
    out = copy.deepcopy(node)
    cur = out
    for p in path[:-1]:
        cur = cur[p]
    if delete:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return out


def forge_header(header: dict, sections: dict, rng: random.Random) -> bytes:
    paths = [p for p in _paths(header) if p]
    edits = 1 if rng.random() < 0.8 else rng.randint(2, 4)
    h = header
    for _ in range(edits):
        path = rng.choice(paths)
        try:
            if rng.random() < 0.1 and isinstance(path[-1], str):
                h = _set(h, path, None, delete=True)
            else:
                cur = h
                for p in path:
                    cur = cur[p]
                h = _set(h, path, _hostile_value(rng, cur))
        except (KeyError, IndexError, TypeError):
            continue
    bomb = rng.choice([1000, 100_000]) if rng.random() < 0.03 else 0  # a nesting bomb beside the fields
    return raw_pack(h, list(sections.values()), bomb)


def raw_pack(header, sections: list[Section], bomb: int = 0) -> bytes:
    """container.pack without its writer-side checks (a hostile writer skips them); `bomb`:
    that many nested lists added to the header's JSON text as one more field."""
    hdr = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    if bomb and hdr.endswith(b"}"):
        hdr = hdr[:-1] + b',"~":' + b"[" * bomb + b"]" * bomb + b"}"
    head = struct.pack("<HI", container.FORMAT_VERSION, len(hdr)) + hdr
    table = [struct.pack("<I", len(sections))]
    for s in sections:
        n, m = s.name.encode()[:255], s.method.encode()[:255]
        table.append(struct.pack("<B", len(n)) + n + struct.pack("<B", len(m)) + m)
        table.append(struct.pack("<QI", len(s.data), zlib.crc32(s.data)))
    tbl = b"".join(table)
    crc = lambda b: struct.pack("<I", zlib.crc32(b) & 0xFFFFFFFF)
    body = container.MAGIC + head + crc(head) + tbl + crc(tbl) + b"".join(s.data for s in sections)
    return body + crc(body)


def _mutate_bytes(b: bytes, rng: random.Random) -> bytes:
    a = bytearray(b)
    kind = rng.randrange(10)
    if not a:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    i = rng.randrange(len(a))
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 4)):
            j = rng.randrange(len(a))
            a[j] ^= 1 << rng.randrange(8)
    elif kind == 1:  # random bytes
        for _ in range(rng.randint(1, 8)):
            a[rng.randrange(len(a))] = rng.randrange(256)
    elif kind in (2, 3):  # an integer field set to an extreme: u8 / u16 / u32 / u64
        width = rng.choice([1, 2, 4, 8])
        v = rng.choice([0, 1, (1 << 8 * width) - 1, 1 << (8 * width - 1), rng.randrange(1 << 8 * width)])
        a[i:i + width] = v.to_bytes(width, "little")
    elif kind == 4:  # the payload's own header (tags, bit depths, u16 channel / u32 point counts, lengths)
        j, width = rng.randrange(min(len(a), 8)), rng.choice([1, 1, 2, 4])
        v = rng.choice([0, 1, 2, 3, 16, 17, 21, 22, 64, 255, 65535, 1 << 28, (1 << 32) - 1]) % (1 << 8 * width)
        a[j:j + width] = v.to_bytes(width, "little")
    elif kind == 5:
        del a[i:i + rng.randint(1, 64)]
    elif kind == 6:
        a[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == 7:
        a = a[:i]
    elif kind == 8:
        a += bytes(rng.randint(1, 4096))
    else:  # a block copied over another
        j, n = rng.randrange(len(a)), rng.randint(1, 64)
        a[i:i + n] = a[j:j + n]
    return bytes(a)


def forge_payload(header: dict, sections: dict, rng: random.Random) -> bytes:
    secs = list(sections.values())
    k = rng.randrange(len(secs))
    s = secs[k]
    secs[k] = Section(s.name, s.method, _mutate_bytes(s.data, rng))
    if rng.random() < 0.1:  # and a second one
        k = rng.randrange(len(secs))
        secs[k] = Section(secs[k].name, secs[k].method, _mutate_bytes(secs[k].data, rng))
    return raw_pack(header, secs)


def forge_table(header: dict, sections: dict, rng: random.Random) -> bytes:
    secs = list(sections.values())
    k = rng.randrange(len(secs))
    s = secs[k]
    kind = rng.randrange(6)
    if kind == 0:
        del secs[k]
    elif kind == 1:
        secs[k] = Section(s.name, rng.choice(["raw", "factorized", "delta", "prevchan", "deltactx", "context", "png",
                                              "webp", "jxl", "lzma", "x", "raw-f32"]), s.data)
    elif kind == 2:
        other = secs[rng.randrange(len(secs))]
        secs[k] = Section(s.name, other.method, other.data)  # another section's payload
    elif kind == 3:
        secs[k] = Section(s.name + "x", s.method, s.data)
    elif kind == 4:
        secs.append(Section(s.name, s.method, s.data))  # duplicate
    else:
        rng.shuffle(secs)
    return raw_pack(header, secs)


def truncate(data: bytes, rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.5:
        return data[:rng.randrange(len(data))]
    a = bytearray(data)
    a[rng.randrange(len(a))] ^= 1 << rng.randrange(8)  # no CRC fixed: the container must catch it
    return bytes(a)


def make_case(codec: str, category: str, index: int, seed: bytes | None = None) -> bytes:
    data = seed if seed is not None else load_seed(codec)
    rng = random.Random(f"{codec}:{category}:{index}")
    if category == "truncate":
        return truncate(data, rng)
    header, sections = container.unpack(data)
    return {"header": forge_header, "payload": forge_payload, "table": forge_table}[category](header, sections, rng)


def same(a, b) -> bool:
    """Two decoded scenes hold equal tensors (NaN-free by then)."""
    import dataclasses

    import torch

    if type(a) is not type(b):
        return False
    if isinstance(getattr(a, "gofs", None), list):
        return len(a.gofs) == len(b.gofs) and all(same(x, y) for x, y in zip(a.gofs, b.gofs))
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            if not isinstance(y, torch.Tensor) or x.shape != y.shape or not torch.equal(x, y):
                return False
        elif isinstance(x, dict) and x and isinstance(next(iter(x.values())), torch.Tensor):
            if set(x) != set(y) or not all(torch.equal(x[k], y[k]) for k in x if x[k].shape == y[k].shape) \
                    or any(x[k].shape != y[k].shape for k in x):
                return False
    return True


def finite(scene) -> bool:
    """Every float tensor of a decoded scene (its dicts of tensors, its groups of frames) is
    finite: checked here independently of the decoder's own check."""
    import dataclasses

    import torch

    if isinstance(getattr(scene, "gofs", None), list):
        return all(finite(g) for g in scene.gofs)
    for f in dataclasses.fields(scene):
        v = getattr(scene, f.name)
        for t in (v.values() if isinstance(v, dict) else [v]):
            if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return False
    return True


def run_case(data: bytes, reference=None) -> tuple[str, str]:
    """(outcome, detail): refused (schema / explicit checks) | refused-boundary (decode_bytes'
    catch-all) | refused-nonfinite (decode_bytes' finiteness check) | memory | identical |
    different (finite) | nonfinite (escaped) | uncaught."""
    from gscodec.codecs import decode_bytes
    from gscodec.errors import GscodecError

    try:
        out = decode_bytes(data)
    except MemoryError as e:
        return "memory", f"MemoryError {e}"[:200]
    except GscodecError as e:
        msg = str(e)
        if "would need more memory" in msg:
            return "memory", msg[:200]
        if "non-finite" in msg and "decodes to" in msg:
            return "refused-nonfinite", msg[:200]
        if "\n" in msg:
            return "uncaught", "multi-line message: " + msg[:200]
        return ("refused-boundary" if msg.startswith(BOUNDARY[0]) else "refused"), msg[:200]
    except BaseException as e:  # noqa: BLE001 - what the fuzz looks for
        if isinstance(e, KeyboardInterrupt):
            raise
        return "uncaught", f"{type(e).__name__}: {e}"[:200]
    if not finite(out):
        return "nonfinite", "a decoded tensor holds NaN or Inf"
    if reference is not None and same(out, reference):
        return "identical", ""
    return "different", ""


def quiet_numpy():
    np.seterr(all="ignore")


__all__ = ["CATEGORIES", "CODECS", "load_seed", "make_case", "run_case", "same"]
