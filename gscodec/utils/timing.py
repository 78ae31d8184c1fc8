"""Wall-clock timing helpers for encode/decode measurements."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Timer:
    """Accumulates named wall-clock durations: `with timer("encode"): ...`."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


def timed(fn, *args, repeat: int = 1, **kwargs):
    """Run fn `repeat` times; return (last result, median seconds)."""
    times, out = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    times.sort()
    return out, times[len(times) // 2]
