"""Progress bars (tqdm) that stay quiet when output is not a terminal or when disabled."""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def progress_iter(items: Iterable[T], desc: str, *, enabled: bool = True, total: int | None = None):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, disable=not enabled or not sys.stderr.isatty(),
                leave=False, dynamic_ncols=True)


class Stages:
    """One status line naming the stage of a long job (encode, decode): callers say
    `stages("k-means SH rest")` as each begins. Quiet (a no-op) when stderr is not a terminal
    or `enabled` is false, so tests and logs get no bar output."""

    def __init__(self, desc: str, total: int | None = None, *, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True,
                             bar_format="{desc}: {n_fmt}/{total_fmt} {postfix} [{elapsed}]" if total else
                             "{desc}: {postfix} [{elapsed}]")
        self._started = False

    def __call__(self, stage: str) -> None:
        if self._bar is None:
            return
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_postfix_str(stage, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Stages":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def no_stages(stage: str) -> None:
    """The stage callback of a job nobody watches."""
