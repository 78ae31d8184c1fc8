"""File helpers: every output is written under a temporary name and renamed, so that a
crash, an error or a SIGTERM (the CLI turns it into an interrupt) never leaves a
half-written file behind; outputs get the user's umask; a failing write is one line."""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from gscodec.errors import InputError

WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path: str | os.PathLike, *inputs: str | os.PathLike) -> Path:
    """Refuse, before any work, an output that is empty, a directory, or one of the inputs
    (which the write would replace)."""
    if not str(path).strip():
        raise InputError("the output path is empty")
    out = Path(path)
    if out.is_dir():
        raise InputError(f"{out}: is a directory, not an output file")
    for src in inputs:
        src = Path(src)
        same = out.exists() and src.exists() and os.path.samefile(out, src)
        if same or out.resolve() == src.resolve():
            raise InputError(f"{out}: is also the input; writing it would replace {src}")
    return out


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.errno in WRITE_ERRNOS or e.errno in (errno.EISDIR, errno.EACCES, errno.EPERM, errno.ENOTDIR):
            raise InputError(f"cannot write {path}: {e.strerror or e}") from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)
