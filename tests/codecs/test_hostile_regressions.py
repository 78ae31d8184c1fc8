"""Regression tests of #22's hostile streams, each built from a minimal reproducer: a deeply
nested header, a count far beyond the bytes, a positions payload declaring 2^28 points, a
symbols payload declaring 65535 channels, a hash table of 2^31 entries and a hidden width of
1e9; the header schema's one-line messages; and the lot decoded under a 4 GiB address-space
limit in a subprocess (each used to allocate gigabytes, recurse or run for minutes)."""
import struct
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
from fuzz_cases import load_seed, raw_pack  # noqa: E402

from gscodec.codecs import decode_bytes  # noqa: E402
from gscodec.coding import container  # noqa: E402
from gscodec.coding.container import Section  # noqa: E402
from gscodec.errors import CorruptStreamError  # noqa: E402


def _forge(codec: str, edit=None, section=None, payload=None, bomb=0) -> bytes:
    header, sections = container.unpack(load_seed(codec))
    if edit:
        edit(header)
    secs = list(sections.values())
    if section:
        secs = [Section(s.name, s.method, payload(s.data)) if s.name == section else s for s in secs]
    return raw_pack(header, secs, bomb)


def _set(*path, value):
    def edit(h):
        cur = h
        for p in path[:-1]:
            cur = cur[p]
        cur[path[-1]] = value
    return edit


def _positions_count(n):  # u8 tag, u8 bits, u32 N: N set, the rest kept
    return lambda b: b[:2] + struct.pack("<I", n) + b[6:]


def _channels(c):  # u8 bits, u16 C
    return lambda b: b[:1] + struct.pack("<H", c) + b[3:]


CASES = {
    "deep nesting": (dict(codec="ptc", bomb=100_000), "nests deeper than 32"),
    "nesting past the schema's depth": (dict(codec="hac", bomb=40), "nests deeper than 32"),
    "count far beyond the bytes": (dict(codec="ptc", edit=_set("count", value=1 << 24)), "more than a"),
    "positions payload of 2^28 points": (dict(codec="ptc", section="positions", payload=_positions_count(1 << 28)),
                                         "above the limit of 79"),
    "anchor positions of 2^28 points": (dict(codec="hac", section="location", payload=_positions_count(1 << 28)),
                                        "above the limit of 53"),
    "u16 channel count 65535": (dict(codec="ptc", section="scales", payload=_channels(65535)),
                                "65535 channels, expected 3"),
    "learned attribute of 65535 channels": (dict(codec="dynamic-gscodec", section="g0.motion",
                                                 payload=_channels(65535)), "65535 channels"),
    "hash table of 2^31 entries": (dict(codec="hac", edit=_set("hac", "grid3d_table_log2", value=31)),
                                   "header field 'hac.grid3d_table_log2' must be int <= 24, got 31"),
    "hidden width 1e9": (dict(codec="hemgs", edit=_set("hemgs", "hidden", value=10**9)),
                         "header field 'hemgs.hidden' must be int <= 4096"),
    "feature pool of 2^31 entries": (dict(codec="predict-gs",
                                          edit=_set("decoder_config", "pool", "grid3d_table_log2", value=31)),
                                     "header field 'decoder_config.pool.grid3d_table_log2' must be int <= 24"),
    "learned model hidden width 1e9": (dict(codec="static-gscodec", edit=_set("sim", "grid", "hidden", value=10**9)),
                                       "header field 'sim.grid.hidden'"),
    "learned model table of 2^31": (dict(codec="static-gscodec", edit=_set("sim", "grid", "table_log2_3d", value=31)),
                                    "header field 'sim.grid.table_log2_3d'"),
    "a mistyped bit width": (dict(codec="ptc", edit=_set("config", "bits", "scales", value="x")),
                             "header field 'config.bits.scales' must be int, got \"x\""),
    "an unknown layout": (dict(codec="ptc", edit=_set("config", "layout", value="zip")),
                          "header field 'config.layout' is not one of its allowed values, got \"zip\""),
    "a GOF count the total disagrees with": (dict(codec="dynamic-gscodec", edit=lambda h: h["gofs"][0].update(count=60)),
                                             "GOF counts sum to"),
    "a tensor shape of 2^70": (dict(codec="predict-gs", edit=lambda h: h["decoder_tensors"][0].__setitem__(1, [1 << 70])),
                               "is invalid"),
}


@pytest.mark.parametrize("kind", CASES)
def test_minimal_reproducer_is_refused_in_one_line(kind):
    spec, message = CASES[kind]
    with pytest.raises(CorruptStreamError) as e:
        decode_bytes(_forge(**spec))
    msg = str(e.value)
    assert message in msg and "\n" not in msg and not msg.startswith("the stream is malformed"), msg


def test_every_reproducer_is_refused_under_a_4_gib_address_space(tmp_path):
    for i, kind in enumerate(CASES):
        (tmp_path / f"{i}.gsz").write_bytes(_forge(**CASES[kind][0]))
    code = ("import resource, sys, glob\n"
            "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
            "from gscodec.codecs import decode_bytes\n"
            "from gscodec.errors import CorruptStreamError\n"
            "for p in sorted(glob.glob(sys.argv[1] + '/*.gsz')):\n"
            "    try:\n"
            "        decode_bytes(open(p, 'rb').read())\n"
            "    except CorruptStreamError as e:\n"
            "        assert 'memory' not in str(e), (p, str(e))\n"
            "        print('refused')\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["refused"] * len(CASES)
