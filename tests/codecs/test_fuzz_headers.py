"""A small seeded fuzz of forged headers (CRCs recomputed, so the container accepts them):
every field of a tiny ptc, scaffold-raw and hac stream replaced by wrong types, signs,
sizes and nesting. Each decode must end in a one-line refusal (a GscodecError) or a finite
scene, never another exception. Values are kept small so a forged count cannot allocate
much (the bound-by-file-size work of #22 is separate)."""
import random
import sys
import time
from pathlib import Path

import pytest

from gscodec.codecs import decode_bytes, get_codec
from gscodec.coding import container
from gscodec.errors import GscodecError
from gscodec.scene import GaussianScene

sys.path.insert(0, str(Path(__file__).parent))
from test_hac import make_scene  # noqa: E402

VALUES = [-1, 0, 1.5, True, None, "x", [], {}, [[[[1]]]], 10**6, -1e300, [0, 0, 0]]
CASES = 1000  # per codec (a second each)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list) and len(node) <= 64:
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _set(node, path, value):
    if not path:
        return value
    import copy

    out = copy.deepcopy(node)
    cur = out
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return out


@pytest.mark.parametrize("codec", ["ptc", "scaffold-raw", "hac"])
def test_forged_headers_are_refused_or_decode_finite(codec):
    scene = GaussianScene.random(60, sh_degree=1) if codec == "ptc" else make_scene(n=60)
    header, sections = container.unpack(get_codec(codec).encode(scene))
    rng = random.Random(1)
    paths = [p for p in _paths(header) if p]
    crashes, t0 = [], time.perf_counter()
    for _ in range(CASES):
        path, value = rng.choice(paths), rng.choice(VALUES)
        try:
            forged = container.pack(_set(header, path, value), list(sections.values()))
        except GscodecError:
            continue  # the container itself refuses to write it
        try:
            decode_bytes(forged)
        except GscodecError:
            pass
        except Exception as e:  # noqa: BLE001 - what the test looks for
            crashes.append(f"{'/'.join(map(str, path))}={value!r}: {type(e).__name__}: {e}"[:160])
    assert not crashes, f"{len(crashes)} of {CASES} forged headers crashed the decoder:\n" + "\n".join(crashes[:8])
    assert time.perf_counter() - t0 < 60
