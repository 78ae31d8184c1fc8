import struct

import pytest

from gscodec.coding import container as C
from gscodec.errors import CorruptStreamError, InputError


def small():
    header = {"codec": "test", "version": 1, "n": 3, "bounds": [[0.0, -1.5, 2.0], [1.0, 2.0, 3.0]], "cfg": {"q": 16}}
    secs = [C.Section("means", "ans-gauss", bytes(range(100))), C.Section("opacity", "raw", b"\x01\x02" * 20),
            C.Section("empty", "none", b"")]
    return header, secs, C.pack(header, secs)


def test_round_trip_and_describe(tmp_path):
    header, secs, data = small()
    h, s = C.unpack(data)
    assert h == header
    assert list(s) == ["means", "opacity", "empty"]
    assert all(s[x.name] == x for x in secs)
    p = tmp_path / "a.gsz"
    assert C.write_gsz(p, header, secs) == len(data)
    assert C.read_gsz(p) == (h, s)
    d = C.describe(data)
    assert [r[:3] for r in d] == [("means", "ans-gauss", 100), ("opacity", "raw", 40), ("empty", "none", 0)]
    assert 0 < sum(r[3] for r in d) < 1


def test_every_single_byte_corruption_refused():
    _, _, data = small()
    assert 250 < len(data) < 400
    for i in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= flip
            with pytest.raises(CorruptStreamError):
                C.unpack(bytes(bad))


def test_every_truncation_and_trailing_bytes_refused():
    _, _, data = small()
    for n in range(len(data)):
        with pytest.raises(CorruptStreamError):
            C.unpack(data[:n])
    with pytest.raises(CorruptStreamError, match="trailing"):
        C.unpack(data + b"\x00")


def _rebuild_table(data, patch):
    """Re-encode a container with a lying table but valid CRCs (the checks must still hold)."""
    hlen = struct.unpack_from("<I", data, 6)[0]
    tstart = 4 + 2 + 4 + hlen + 4
    count = struct.unpack_from("<I", data, tstart)[0]
    pos, entries = tstart + 4, []
    for _ in range(count):
        nl = data[pos]; name = data[pos + 1: pos + 1 + nl]; pos += 1 + nl
        ml = data[pos]; meth = data[pos + 1: pos + 1 + ml]; pos += 1 + ml
        size, crc = struct.unpack_from("<QI", data, pos); pos += 12
        entries.append([name, meth, size, crc])
    payload = data[pos + 4:-4]
    patch(entries)
    tbl = struct.pack("<I", len(entries)) + b"".join(
        bytes([len(n)]) + n + bytes([len(m)]) + m + struct.pack("<QI", s, c) for n, m, s, c in entries)
    body = data[:tstart] + tbl + struct.pack("<I", C._crc(tbl)) + payload
    return body + struct.pack("<I", C._crc(body))


def test_lying_lengths_refused_without_allocating():
    _, _, data = small()
    for size in (2**63, 2**64 - 1, 2**40, 101):
        def patch(e, size=size):
            e[0][2] = size
        with pytest.raises(CorruptStreamError, match="payload bytes"):
            C.unpack(_rebuild_table(data, patch))
    bad = bytearray(data)
    bad[6:10] = struct.pack("<I", 2**32 - 1)  # header length
    with pytest.raises(CorruptStreamError, match="header length"):
        C.unpack(bytes(bad))
    bad = bytearray(data)
    bad[6:10] = struct.pack("<I", 10**6)
    with pytest.raises(CorruptStreamError, match="needs"):
        C.unpack(bytes(bad))


def test_duplicate_name_and_counts_refused():
    _, _, data = small()

    def dup(e):
        e[1][0] = e[0][0]
    with pytest.raises(CorruptStreamError, match="duplicate"):
        C.unpack(_rebuild_table(data, dup))
    with pytest.raises(CorruptStreamError):
        C.unpack(data, max_size=10)


def test_newer_version_message():
    _, _, data = small()
    bad = bytearray(data)
    bad[4:6] = struct.pack("<H", 7)
    with pytest.raises(CorruptStreamError, match="newer gscodec format v7; this reader supports <= v1"):
        C.unpack(bytes(bad))
    with pytest.raises(CorruptStreamError, match="magic"):
        C.unpack(b"PK\x03\x04" + data[4:])


def test_pack_input_checks(tmp_path):
    with pytest.raises(InputError, match="finite"):
        C.pack({"x": float("nan")}, [])
    with pytest.raises(InputError, match="JSON"):
        C.pack({"x": object()}, [])
    with pytest.raises(InputError, match="unique"):
        C.pack({}, [C.Section("a", "raw", b""), C.Section("a", "raw", b"")])
    with pytest.raises(InputError, match="1..64"):
        C.pack({}, [C.Section("x" * 65, "raw", b"")])
    with pytest.raises(InputError, match="limit"):
        C.pack({}, [C.Section(f"s{i}", "raw", b"") for i in range(1025)])
    with pytest.raises(InputError, match="cannot read"):
        C.read_gsz(tmp_path / "missing.gsz")
    with pytest.raises(CorruptStreamError, match="bad.gsz"):
        (tmp_path / "bad.gsz").write_bytes(b"junk")
        C.read_gsz(tmp_path / "bad.gsz")
    h, s = C.unpack(C.pack({}, []))
    assert h == {} and s == {}


def test_skewed_sign_tables_are_bernoulli_coded_and_a_lying_count_refused():
    import torch

    from gscodec.coding.stream import SIGN, SIGN_ANS, pack_tensors, unpack_tensors

    g = torch.Generator().manual_seed(0)
    skewed = torch.where(torch.rand(4000, generator=g) < 0.1, 1.0, -1.0)
    even = torch.where(torch.rand(400, generator=g) < 0.5, 1.0, -1.0)
    data, table = pack_tensors({"a": skewed, "b": even}, "float16")
    assert [e[2] for e in table] == [SIGN_ANS, SIGN] and table[0][4] < 4000 // 8 * 0.6
    out = unpack_tensors(data, table)
    assert torch.equal(out["a"], skewed) and torch.equal(out["b"], even)
    lying = [list(e) for e in table]
    lying[0][1] = [4_000_000]  # a few hundred bytes cannot hold that many signs at this p
    with pytest.raises(CorruptStreamError, match="cannot fit"):
        unpack_tensors(data, lying)
