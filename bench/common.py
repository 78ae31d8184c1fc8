"""What the benchmark scripts (anchor_codecs.py, dynamic.py, render.py, ...) share: the machine
line of a results file, and writing the Markdown + JSON + plot of a run (or of an earlier
run's JSON, to rebuild a report without training again)."""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Callable

import torch

from gscodec.utils.io import atomic_write_text
from gscodec.utils.provenance import git_commit, start_commit  # noqa: F401 - git_commit re-exported


def run_meta(script: str, **fields) -> dict:
    """Machine, date, command and the 1-minute load of this run; call it when the run ends."""
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": f"python bench/{script} " + " ".join(sys.argv[1:]),
            "loadavg_1min_end": round(os.getloadavg()[0], 2), "git_commit": START_COMMIT, **fields}


START_COMMIT = start_commit()  # taken when the script starts: the code that runs, not the tree at its end


def write_results(out: Path, key: str, items: list[dict], meta: dict, notes: str | None,
                  plot: Callable[[list[dict], Path], Path | None], report: Callable[[list[dict], dict], str],
                  summary: dict | None = None) -> int:
    """OUT.png (plot), OUT.md (report, printed too) and OUT.json ({"summary"?, "meta", key: items});
    `summary` holds the figures the issue names, under its names (also in meta for the report)."""
    png = plot(items, out.with_suffix(".png"))
    if png is not None:
        meta["plot"] = png.name
    if notes:
        meta["notes"] = Path(notes).read_text().strip()
    if summary is not None:
        meta["summary"] = summary
    md = report(items, meta)
    print(md)
    atomic_write_text(out.with_suffix(".md"), md)
    doc = ({"summary": summary} if summary is not None else {}) | {"meta": meta, key: items}
    atomic_write_text(out.with_suffix(".json"), json.dumps(doc, indent=2, default=str))
    return 0


def load_results(path: str | Path, key: str) -> tuple[list[dict], dict]:
    saved = json.loads(Path(path).read_text())
    return saved[key], saved["meta"]
