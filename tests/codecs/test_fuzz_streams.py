"""A small seeded fuzz over EVERY codec's stream (#22 item 4): forged header fields, payload
bytes and section tables (CRCs recomputed, so the decoder sees them) and plain truncations,
made from the committed tiny stream of each codec by bench/fuzz_cases.py (bench/fuzz.py runs
the long version under memory and time limits). Each decode must end in a one-line refusal
or a finite scene, never another exception; and most refusals must come from the schema or
the decoders' explicit checks, not the decode boundary's catch-all."""
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
from fuzz_cases import CATEGORIES, CODECS, load_seed, make_case, run_case  # noqa: E402

from gscodec.codecs import decode_bytes  # noqa: E402

CASES = 48  # per codec and category: 2496 cases over the 13 seed streams, ~15-20 s


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("codec", CODECS)
def test_hostile_streams_are_refused_in_one_line_or_decode_finite(codec):
    seed = load_seed(codec)
    ref = decode_bytes(seed)
    outcomes, bad, t0 = Counter(), [], time.perf_counter()
    with np.errstate(all="ignore"):
        for cat in CATEGORIES:
            for i in range(CASES):
                outcome, detail = run_case(make_case(codec, cat, i, seed), ref)
                outcomes[outcome] += 1
                if outcome in ("uncaught", "memory"):
                    bad.append(f"{codec}:{cat}:{i} {outcome}: {detail}")
    assert not bad, f"{len(bad)} hostile streams were not refused cleanly:\n" + "\n".join(bad[:8])
    assert outcomes["refused-boundary"] <= 0.1 * sum(outcomes.values()), outcomes
    assert time.perf_counter() - t0 < 60  # ~2 s alone; a loaded machine is slower
