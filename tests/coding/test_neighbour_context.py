"""Neighbour-context coding: exact round trips (every method, key or not, tiny and odd sizes),
the LOD graph only looks back, and corrupt payloads are refused in one line."""
import numpy as np
import pytest

from gscodec.coding.neighbour_context import (METHODS, NeighbourConfig, decode_neighbour, encode_neighbour,
                                              lod_levels, neighbour_graph)
from gscodec.errors import CorruptStreamError, InputError


def _data(n, c=3, bits=7, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.sort(rng.integers(0, 1 << 10, (n, 3)), axis=0)  # roughly ordered along a line
    smooth = (pos[:, :1] * (1 << bits)) // (1 << 10)
    q = np.clip(smooth + rng.integers(-2, 3, (n, c)), 0, (1 << bits) - 1)
    return pos, q, rng.integers(0, 4, n)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 77, 600])
def test_round_trip_is_exact(method, n):
    pos, q, key = _data(n)
    g = neighbour_graph(pos, NeighbourConfig())
    for same in (None, key):
        data = encode_neighbour(q, 7, g, method, same)
        assert np.array_equal(decode_neighbour(data, g, method, 3, same), q)


@pytest.mark.parametrize("cfg", [NeighbourConfig(1, 1, 1), NeighbourConfig(16, 32, 32), NeighbourConfig(3, 5, 2)])
def test_graph_looks_only_at_earlier_levels(cfg):
    pos, q, _ = _data(300, c=1, bits=12)
    g = neighbour_graph(pos, cfg)
    later = g.level > 0
    assert np.all(g.level[g.nbr[later]] < g.level[later][:, None])
    assert np.array_equal(decode_neighbour(encode_neighbour(q, 12, g), g, "neighbour", 1), q)


def test_levels_double_in_density():
    lev = lod_levels(64, 4)
    assert lev[0] == 0 and list(np.bincount(lev)) == [8, 8, 16, 32]


def test_prediction_beats_no_prediction_on_smooth_data():
    pos, q, _ = _data(4000, c=1, bits=8)
    g = neighbour_graph(pos, NeighbourConfig())
    from gscodec.coding.symbols import encode_symbols

    assert len(encode_neighbour(q, 8, g, "neighbourplain")) < 0.8 * len(encode_symbols(q, 8, "factorized"))


def test_corrupt_payloads_are_refused():
    pos, q, _ = _data(200)
    g = neighbour_graph(pos, NeighbourConfig())
    data = encode_neighbour(q, 7, g, "neighbour")
    with pytest.raises(CorruptStreamError, match="channels"):
        decode_neighbour(data, g, "neighbour", 4)
    for cut in range(0, len(data), 7):
        with pytest.raises(CorruptStreamError):
            decode_neighbour(data[:cut], g, "neighbour", 3)
    with pytest.raises(InputError):
        encode_neighbour(q + 200, 7, g)


def test_chunked_work_gives_the_same_bytes(monkeypatch):
    import gscodec.coding.neighbour_context as nc

    pos, q, key = _data(500)
    whole = [encode_neighbour(q, 7, neighbour_graph(pos, NeighbourConfig()), m, key) for m in METHODS]
    monkeypatch.setattr(nc, "CHUNK", 7)
    g = neighbour_graph(pos, NeighbourConfig())
    for m, data in zip(METHODS, whole):
        assert encode_neighbour(q, 7, g, m, key) == data
        assert np.array_equal(decode_neighbour(data, g, m, 3, key), q)


def test_forged_width_or_tables_are_refused():
    """A payload whose bit width differs from the header's, or whose tables are longer than any
    symbol of that width could need, is refused (a forged table would cost decode time)."""
    from gscodec.coding import ans

    pos, q, _ = _data(200)
    g = neighbour_graph(pos, NeighbourConfig())
    data = encode_neighbour(q, 7, g, "neighbourplain")
    assert np.array_equal(decode_neighbour(data, g, "neighbourplain", 3, bits=7), q)
    with pytest.raises(CorruptStreamError, match="of 8 bits"):
        decode_neighbour(data, g, "neighbourplain", 3, bits=8)
    tables, used = ans.read_tables(data[3:], 3 * 2, "t")
    tables[0] = ans.quantize_pmf(np.ones(1 << 8))  # 256 entries for 7-bit symbols
    forged = data[:3] + ans.pack_tables(tables) + data[3 + used:]
    with pytest.raises(CorruptStreamError, match="longer than 2"):
        decode_neighbour(forged, g, "neighbourplain", 3)


def test_no_channels_round_trips():
    pos, _, _ = _data(50)
    g = neighbour_graph(pos, NeighbourConfig())
    for m in METHODS:
        q = np.zeros((50, 0), np.int64)
        assert decode_neighbour(encode_neighbour(q, 7, g, m), g, m, 0).shape == (50, 0)
