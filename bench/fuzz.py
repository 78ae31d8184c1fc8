"""Hostile-input benchmark (#22): forged streams of every codec and malformed PLYs.

Streams: cases from bench/fuzz_cases.py (header fields, payload bytes, section table, plain
truncation / bit flips) over the committed seed stream of each codec. They run in worker
processes under RLIMIT_AS (4 GiB by default) and a per-case time limit watched from outside:
a worker that goes silent is killed and its case counted as a hang, one that dies is a
crash, a MemoryError (or the decoder's memory refusal) is a memory case; so blow-ups are
detected, not suffered. PLYs: bench/fuzz_ply.py's kinds through `gscodec encode`.

    flock /tmp/gscodec-heavy.lock python bench/fuzz.py [--cases 2000] [--workers 2]
    python bench/fuzz.py --replay hac:payload:123
Writes bench/results/fuzz.{json,md} (--out to change).
"""
from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_meta  # noqa: E402
from fuzz_cases import CATEGORIES, CODECS, load_seed, make_case, run_case  # noqa: E402

from gscodec.utils.io import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "fuzz"
CLEAN = ("refused", "refused-boundary", "refused-nonfinite")
SCHEMA = ("header field '", "header JSON ")  # refusals worded by gscodec.coding.schema


def _limit(mem_gib: float) -> None:
    import resource

    lim = int(mem_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))


def worker(mem_gib: float) -> int:
    """Reads 'codec category index' lines, answers one JSON line each (after the decode)."""
    import torch

    from fuzz_cases import quiet_numpy

    from gscodec.codecs import decode_bytes

    torch.set_num_threads(1)
    quiet_numpy()
    refs = {}
    _limit(mem_gib)
    for line in sys.stdin:
        codec, cat, i = line.split()
        if codec not in refs:
            refs[codec] = (load_seed(codec), decode_bytes(load_seed(codec)))
        seed, ref = refs[codec]
        t0 = time.perf_counter()
        try:
            data = make_case(codec, cat, int(i), seed)
            outcome, detail = run_case(data, ref)
        except MemoryError:
            outcome, detail = "memory", "MemoryError outside the decoder"
        except Exception as e:  # noqa: BLE001 - the harness's own failure, not the decoder's
            outcome, detail = "harness-error", f"{type(e).__name__}: {e}"[:200]
        print(json.dumps({"codec": codec, "category": cat, "index": int(i), "outcome": outcome, "detail": detail,
                          "seconds": round(time.perf_counter() - t0, 4)}), flush=True)
    return 0


class Pool:
    """Workers fed one case at a time; a silent worker past `timeout` is killed (a hang)."""

    def __init__(self, n: int, mem_gib: float, timeout: float):
        self.n, self.mem, self.timeout = n, mem_gib, timeout
        self.procs: list = [None] * n

    def _start(self, k):
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.procs[k] = subprocess.Popen([sys.executable, __file__, "--worker", "--mem-gib", str(self.mem)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         text=True, bufsize=1, env=env)

    def run(self, cases: list[tuple[str, str, int]], progress=None):
        todo, busy, results = list(reversed(cases)), {}, []
        for k in range(self.n):
            self._start(k)
        while todo or busy:
            for k in range(self.n):
                if k not in busy and todo:
                    c = todo.pop()
                    try:
                        self.procs[k].stdin.write(" ".join(map(str, c)) + "\n")
                        self.procs[k].stdin.flush()
                    except (BrokenPipeError, OSError):
                        self._start(k)
                        todo.append(c)
                        continue
                    busy[k] = (c, time.monotonic())
            fds = {self.procs[k].stdout.fileno(): k for k in busy}
            ready, _, _ = select.select(list(fds), [], [], 1.0)
            for fd in ready:
                k = fds[fd]
                c, _ = busy.pop(k)
                line = self.procs[k].stdout.readline()
                if line:
                    results.append(json.loads(line))
                else:  # the worker died: a signal (e.g. killed for memory) or a crash in C
                    rc = self.procs[k].wait()
                    results.append(dict(zip(("codec", "category", "index"), c), outcome="crash",
                                        detail=f"worker exited with {rc}", seconds=None))
                    self._start(k)
                if progress:
                    progress(len(results), len(cases))
            now = time.monotonic()
            for k, (c, t0) in list(busy.items()):
                if now - t0 > self.timeout + (60 if c[2] == -1 else 0):
                    self.procs[k].kill()
                    self.procs[k].wait()
                    busy.pop(k)
                    results.append(dict(zip(("codec", "category", "index"), c), outcome="hang",
                                        detail=f"no answer in {self.timeout} s", seconds=self.timeout))
                    self._start(k)
        for p in self.procs:
            p.stdin.close()
            p.wait()
        return results


def summarize(results: list[dict]) -> dict:
    out = Counter(r["outcome"] for r in results)
    n = len(results)
    refused = sum(out[c] for c in CLEAN)
    return {"cases": n, "outcomes": dict(out), "uncaught": out["uncaught"] + out["crash"], "memory": out["memory"],
            "hang": out["hang"], "nonfinite": out["nonfinite"], "clean_refusal_pct": round(100 * refused / max(n, 1), 2),
            "refused_by_schema_or_checks": out["refused"] + out["refused-nonfinite"],
            "refused_by_schema": sum(r["outcome"] == "refused" and r["detail"].startswith(SCHEMA) for r in results),
            "refused_by_boundary": out["refused-boundary"]}


def table(results: list[dict]) -> dict:
    per = defaultdict(Counter)
    for r in results:
        per[(r["codec"], r["category"])][r["outcome"]] += 1
    return {f"{c}/{k}": dict(v) for (c, k), v in sorted(per.items())}


def report(doc: dict) -> str:
    s, m = doc["summary"], doc["meta"]
    cols = ["refused", "refused-boundary", "refused-nonfinite", "identical", "different", "nonfinite", "memory",
            "hang", "uncaught", "crash"]
    lines = ["# Hostile input fuzz (#22)", "", f"`{m['command']}` at {m['git_commit']} on {m['machine']}, "
             f"{m['date_utc']}, {m['wall_seconds']:.0f} s wall, load {m['loadavg_1min_end']} at the end; "
             f"memory limit {m['mem_gib']} GiB (RLIMIT_AS) and {m['timeout_s']} s per case.", "",
             f"**{s['cases']} stream cases: {s['uncaught']} uncaught, {s['memory']} memory, {s['hang']} hang, "
             f"{s['nonfinite']} non-finite outputs; {s['clean_refusal_pct']}% cleanly refused** "
             f"({s['refused_by_schema_or_checks']} by the schema / explicit checks, of which {s['refused_by_schema']} "
             f"by the header schema; {s['refused_by_boundary']} by the decode boundary's catch-all); the rest decoded "
             "to a finite scene (identical or different).", "",
             "| codec / category | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for key, v in doc["per_codec_category"].items():
        lines.append(f"| {key} | " + " | ".join(str(v.get(c, 0)) for c in cols) + " |")
    bad = doc["failures"]
    if bad:
        lines += ["", "Failures (replay with `python bench/fuzz.py --replay CODEC:CATEGORY:INDEX`):", ""]
        lines += [f"- `{r['codec']}:{r['category']}:{r['index']}` {r['outcome']}: {r['detail']}" for r in bad[:40]]
    if doc["boundary_messages"]:
        lines += ["", "Most frequent catch-all refusals:", ""]
        lines += [f"- {n} x `{msg}`" for msg, n in doc["boundary_messages"].items()]
    if "ply" in doc:
        p = doc["ply"]
        lines += ["", f"## Malformed PLYs through `gscodec encode` ({len(p['kinds'])} kinds)", "",
                  f"{p['summary']['refused']} refused in one line, {p['summary']['note']} encoded with a note, "
                  f"{p['summary']['ok']} encoded silently (valid variants), {p['summary']['bad']} bad "
                  "(traceback, several lines, a left-over output or a non-finite result).", "",
                  "| kind | outcome | message |", "|---|---|---|"]
        for k in p["kinds"]:
            lines.append(f"| {k['kind']} | {k['outcome']} | {k['message'][:140].replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2200, help="cases per codec (split over the categories)")
    ap.add_argument("--codecs", nargs="*", default=list(CODECS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mem-gib", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds one case may take")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-ply", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--replay", default=None)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a.mem_gib)
    if a.replay:
        codec, cat, i = a.replay.split(":")
        from gscodec.codecs import decode_bytes

        print(run_case(make_case(codec, cat, int(i)), decode_bytes(load_seed(codec))))
        return 0
    weights = {"header": 0.4, "payload": 0.4, "table": 0.1, "truncate": 0.1}
    cases = [(c, k, i) for c in a.codecs for k in CATEGORIES for i in range(int(a.cases * weights[k]))]
    t0 = time.time()

    def progress(done, total):
        if done % 500 == 0:
            print(f"{done}/{total} cases, {time.time() - t0:.0f} s", flush=True)

    results = Pool(a.workers, a.mem_gib, a.timeout).run(cases, progress)
    results.sort(key=lambda r: (r["codec"], r["category"], r["index"]))
    doc = {"summary": summarize(results)}
    if not a.no_ply:
        import fuzz_ply

        doc["ply"] = fuzz_ply.run_all()
    meta = run_meta("fuzz.py", mem_gib=a.mem_gib, timeout_s=a.timeout, workers=a.workers,
                    wall_seconds=round(time.time() - t0, 1), cases_per_codec=a.cases)
    doc["summary"]["git_commit"] = meta["git_commit"]
    if "ply" in doc:
        doc["summary"]["ply_kinds"], doc["summary"]["ply_bad"] = len(doc["ply"]["kinds"]), doc["ply"]["summary"]["bad"]
    boundary = Counter(r["detail"][:120] for r in results if r["outcome"] == "refused-boundary")
    doc |= {"meta": meta, "per_codec_category": table(results), "boundary_messages": dict(boundary.most_common(20)),
            "failures": [r for r in results if r["outcome"] in ("uncaught", "crash", "memory", "hang", "nonfinite",
                                                                 "harness-error")]}
    md = report(doc)
    print(md)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out.with_suffix(".md"), md)
    atomic_write_text(a.out.with_suffix(".json"), json.dumps(doc, indent=1, default=str))
    bad = sum(doc["summary"][k] for k in ("uncaught", "memory", "hang", "nonfinite"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
