"""Where a result came from: the git commit of the code that ran, the command, machine and load.

Every benchmark file records these (docs: bench results carry their provenance); one place
computes them so the harness rows and the bench scripts say the same thing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = (".", ":(exclude)bench/results")  # git pathspec of the code: results written by runs are not code


def git_commit(root: Path = ROOT) -> str:
    """`git describe --always --dirty` in the long form: the commit, '+dirty' when tracked code had
    uncommitted changes (results written by earlier runs, under bench/results, are not code);
    'unknown' outside a git checkout (an installed wheel)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE],
                               cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def same_code(commits, root: Path = ROOT) -> bool:
    """True when every commit in `commits` has the same tracked code: they differ only in results
    under bench/results (a run merged chunk by chunk, each chunk committed before the next ran).
    False when any commit is unknown, dirty or not in this checkout: then nobody can tell."""
    revs = [str(c) for c in commits]
    if any(not c or c in ("unknown", "None", "not recorded") or c.endswith("+dirty") for c in revs):
        return False
    try:
        return all(subprocess.run(["git", "diff", "--quiet", revs[0], rev, "--", *CODE],
                                  cwd=root, capture_output=True).returncode == 0 for rev in revs[1:])
    except OSError:
        return False


_START = None


def start_commit() -> str:
    """The commit at the first call in this process (the code that runs, not the tree at the end)."""
    global _START
    if _START is None:
        _START = git_commit()
    return _START


def command_line(prog: str | None = None) -> str:
    """The command as typed: `prog` (e.g. 'gscodec') in place of the interpreter's script path."""
    args = sys.argv[1:]
    head = prog or ("python " + os.path.relpath(sys.argv[0]) if sys.argv and sys.argv[0] else "python")
    return " ".join([head, *args])


def load_1min() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")
