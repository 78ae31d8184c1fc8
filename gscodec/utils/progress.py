"""Progress bars (tqdm) that stay quiet when output is not a terminal or when disabled."""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def progress_iter(items: Iterable[T], desc: str, *, enabled: bool = True, total: int | None = None):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, disable=not enabled or not sys.stderr.isatty(),
                leave=False, dynamic_ncols=True)
