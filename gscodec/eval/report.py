"""`gscodec report RESULTS.jsonl`: Markdown tables and PNG plots from bench results, nothing re-run.

Output (next to the results file unless told otherwise): `report.md`, `rd_<dataset>.png` (RD
curves: size vs PSNR, with published points as a separate hollow/dashed series when the
dataset has any) and `sizes_<dataset>.png` (size breakdown by bitstream section). The same
results file always gives byte-identical outputs (sorted, no timestamps, PNG metadata fixed).
"""
from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from gscodec.errors import InputError
from gscodec.metrics.bdrate import bd_psnr, bd_rate
from gscodec.eval.harness import SPEC_NAME, latest_records, read_results
from gscodec.eval.reference import DATASET_NAMES, canonical_dataset, published_for

REPORT_NAME = "report.md"
SUMMARY_NAME = "summary.json"


# ---- plug-ins ----------------------------------------------------------------------------
def load_plugin(path: str | Path):
    """A report plug-in: a Python file (a spec's `report`, or `gscodec report --plugin`) with `sections(res, out) -> list of
    Markdown lines` (it may write figures into `out`) and optionally `summary(res) -> dict`, the
    figures its study is read for. So a study with tables of its own (an ablation, a comparison
    with published deltas) is still one `gscodec bench` spec and one report writer: the plug-in
    adds to the standard report, it does not replace it."""
    import importlib.util

    path = Path(path)
    if not path.is_file():
        raise InputError(f"report plug-in {path}: no such file (paths are relative to the current directory)")
    mod_spec = importlib.util.spec_from_file_location(f"gscodec_report_plugin_{_slug(path.stem)}", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    if not callable(getattr(mod, "sections", None)):
        raise InputError(f"report plug-in {path}: it defines no sections(res, out) function")
    return mod


# ---- data --------------------------------------------------------------------------------
def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _fmt(x, spec: str, none: str = "-") -> str:
    if x is None:
        return none
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return format(x, spec)


def _fmt_size(b: float | None) -> str:
    if b is None:
        return "-"
    if b >= 1e6:
        return f"{b / 1e6:.2f} MB"
    if b >= 1e3:
        return f"{b / 1e3:.1f} KB"
    return f"{b:.0f} B"


def _rate_sort_key(r: dict):
    rate = r.get("rate")
    return (0, float(rate), "") if isinstance(rate, (int, float)) else (1, 0.0, str(rate))


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(s)).strip("_") or "x"


class Results:
    """The latest record of every job of a results file, grouped for the report."""

    def __init__(self, records: list[dict], spec: dict | None = None):
        self.all = list(latest_records(records).values())
        self.ok = [r for r in self.all if r.get("status") == "ok"]
        self.failed = [r for r in self.all if r.get("status") != "ok"]
        self.spec = spec or {}
        order = [c["label"] for c in self.spec.get("codecs", [])]
        for r in self.all:
            if r["codec"] not in order:
                order.append(r["codec"])
        self.codecs = order
        sorder = [s["name"] for s in self.spec.get("scenes", [])]
        for r in self.all:
            if r["scene"] not in sorder:
                sorder.append(r["scene"])
        self.scenes = sorder
        self.run = self.spec.get("name") or (self.all[0].get("run") if self.all else "bench")

    def dataset_of(self, scene: str) -> str:
        for r in self.all:
            if r["scene"] == scene:
                return r.get("dataset") or scene
        return scene

    @property
    def datasets(self) -> list[str]:
        out = []
        for s in self.scenes:
            d = self.dataset_of(s)
            if d not in out:
                out.append(d)
        return out

    def curve(self, scene: str, codec: str) -> list[dict]:
        rows = [r for r in self.ok if r["scene"] == scene and r["codec"] == codec]
        return sorted(rows, key=lambda r: (r.get("bytes", 0), _rate_sort_key(r)))

    def dataset_curve(self, dataset: str, codec: str) -> list[dict]:
        """Mean size / metrics per rate point over the dataset's scenes (points present in all)."""
        scenes = [s for s in self.scenes if self.dataset_of(s) == dataset]
        by_rate: dict = OrderedDict()
        for s in scenes:
            for r in self.curve(s, codec):
                by_rate.setdefault(json.dumps(r.get("rate"), sort_keys=True), []).append(r)
        out = []
        for rate_key, rows in by_rate.items():
            if len(rows) != len(scenes):
                continue
            secs: dict[str, float] = OrderedDict()
            for r in rows:
                for sct in r.get("sections", []):
                    secs[sct["name"]] = secs.get(sct["name"], 0.0) + sct["bytes"] / len(rows)

            def mean(k):
                v = [r.get(k) for r in rows]
                return float(np.mean(v)) if all(_finite(x) for x in v) else None

            out.append({"rate": json.loads(rate_key), "rate_param": rows[0].get("rate_param"), "bytes": mean("bytes"),
                        "psnr": mean("psnr"), "ssim": mean("ssim"), "lpips": mean("lpips"),
                        "sections": [{"name": k, "bytes": v} for k, v in secs.items()], "scenes": len(rows)})
        return sorted(out, key=lambda r: (r["bytes"] or 0.0, _rate_sort_key(r)))

    def anchor(self, override: str | None = None) -> str | None:
        a = override or self.spec.get("anchor")
        if a:
            return a
        return self.codecs[0] if self.codecs else None


def _rate_label(r: dict) -> str:
    if r.get("rate_param") is None:
        return "-"
    return f"{r['rate_param']}={r.get('rate')}"


def _bd(anchor_rows: list[dict], rows: list[dict]):
    def xy(rs):
        return [r.get("bytes") for r in rs], [r.get("psnr") for r in rs]

    a, t = xy(anchor_rows), xy(rows)
    return bd_rate(*a, *t), bd_psnr(*a, *t)


# ---- plots -------------------------------------------------------------------------------
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"]
_SECTION_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                   "#9c755f", "#bab0ac"]


def new_figure(w: float, h: float):
    """A matplotlib Figure on the Agg canvas (no pyplot state, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: Path) -> Path:
    """PNG without a timestamp (the same results give the same bytes), written under a
    temporary name and renamed."""
    import matplotlib

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with matplotlib.rc_context({"svg.hashsalt": "gscodec", "path.simplify": True}):
        fig.savefig(tmp, format="png", metadata={"Software": None}, dpi=100)
    tmp.replace(path)
    return path


def plot_rd(res: Results, dataset: str, path: Path, published: dict | None = None) -> Path:
    fig = new_figure(7.0, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    sizes = [r["bytes"] for c in res.codecs for r in res.dataset_curve(dataset, c) if r["bytes"]]
    mb = bool(sizes) and max(sizes) >= 1e6
    scale, unit = (1e6, "MB") if mb or published else (1e3, "KB")
    for i, c in enumerate(res.codecs):
        rows = [r for r in res.dataset_curve(dataset, c) if r["bytes"] and _finite(r["psnr"])]
        if not rows:
            continue
        ax.plot([r["bytes"] / scale for r in rows], [r["psnr"] for r in rows], marker="o",
                color=_COLORS[i % len(_COLORS)], label=f"{c} (measured)")
    for j, (method, pts) in enumerate(sorted((published or {}).items())):
        ax.plot([p.bytes / scale for p in pts], [p.psnr for p in pts], marker="s", linestyle="--",
                markerfacecolor="none", color=_COLORS[(len(res.codecs) + j) % len(_COLORS)],
                label=f"[published] {method}")
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    if hi / lo < 10:  # less than a decade: label the minor ticks too
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"size ({unit}, log scale)")
    ax.set_ylabel("PSNR (dB)")
    n = len([s for s in res.scenes if res.dataset_of(s) == dataset])
    ax.set_title(f"Rate-distortion: {dataset} ({n} scene{'s' if n != 1 else ''}, mean)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_sizes(res: Results, dataset: str, path: Path) -> Path:
    bars = []  # (label, sections), parts of one attribute ("positions.0", "positions.1") merged
    for c in res.codecs:
        for r in res.dataset_curve(dataset, c):
            secs = r["sections"] or [{"name": "(total)", "bytes": r["bytes"] or 0}]
            bars.append((f"{c}\n{_rate_label(r)}", [{"name": re.sub(r"\.\d+$", "", s["name"]), "bytes": s["bytes"]}
                                                     for s in secs]))
    names: list[str] = []
    for _, secs in bars:
        for s in secs:
            if s["name"] not in names:
                names.append(s["name"])
    fig = new_figure(max(6.0, 0.9 * len(bars) + 2.5), 4.8)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(bars))
    bottom = np.zeros(len(bars))
    scale, unit = (1e6, "MB") if any(sum(s["bytes"] for s in secs) >= 1e6 for _, secs in bars) else (1e3, "KB")
    for k, name in enumerate(names):
        vals = np.array([sum(s["bytes"] for s in secs if s["name"] == name) for _, secs in bars]) / scale
        ax.bar(x, vals, bottom=bottom, color=_SECTION_COLORS[k % len(_SECTION_COLORS)], label=name, width=0.7)
        bottom += vals
    ax.set_xticks(x)
    ax.set_xticklabels([b[0] for b in bars], fontsize=7, rotation=25, ha="right")
    ax.set_ylabel(f"size ({unit})")
    ax.set_title(f"Size breakdown by section: {dataset}")
    if names:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


# ---- markdown ----------------------------------------------------------------------------
def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"] + \
           ["| " + " | ".join(r) + " |" for r in rows]


def _commits(rows: list[dict]) -> list[str]:
    """The git commits the rows were made at, sorted."""
    return sorted({str(r.get("git_commit")) for r in rows if r.get("git_commit")})


def _provenance_lines(rows: list[dict]) -> list[str]:
    """The code, command, dates, load and total time of the jobs, all read from their records
    (nothing typed in by hand); one line of timings and one of where the code came from."""
    commits = _commits(rows)
    commands = sorted({str(r.get("command")) for r in rows if r.get("command")})
    if len(commits) > 1:  # a resumed run across commits: say whether the code itself changed
        from gscodec.utils.provenance import same_code

        several = (" (rows from several commits with the same code: they differ only in bench/results)"
                   if same_code(commits) else " (rows from several commits whose code differs, or cannot be "
                   "compared here: a ratio between rows of two commits compares two versions of the code)")
    else:
        several = ""
    code = ("Code: git " + ", ".join(commits) + several
            if commits else "Code: commit not recorded (rows written before the harness recorded it)")
    if commands:
        code += "; command: " + "; ".join(f"`{c}`" for c in commands)
    out = [code + "."]
    secs = [r["job_seconds"] for r in rows if _finite(r.get("job_seconds"))]
    dates = sorted(str(r["finished_at"]) for r in rows if r.get("finished_at"))
    loads = [r["load_1min"] for r in rows if _finite(r.get("load_1min"))]
    if secs:
        t = sum(secs)
        line = (f"Timings: the {len(secs)} jobs took {int(t // 60)} min {t % 60:02.0f} s in all (the sum of their "
                "times; a shared training counted once, in the job that ran it)")
        if dates:
            line += f"; finished {dates[0]} to {dates[-1]}"
        if loads:
            line += f"; 1-min load at the jobs' ends {min(loads):.2f}-{max(loads):.2f}"
        out.append(line + ".")
    return out


def build_report(results_path: str | Path, out_dir: str | Path | None = None, *, anchor: str | None = None,
                 published: bool = True, published_path: str | Path | None = None,
                 spec_path: str | Path | None = None, plugin: str | Path | None = None) -> Path:
    """Write report.md and the PNGs from a results file (and, with a plug-in, its sections and
    summary.json); returns the report path. `plugin` is given by the caller (`gscodec bench`
    passes its spec's `report`; `gscodec report` its --plugin), never read from spec.json."""
    results_path = Path(results_path)
    if not results_path.is_file():
        raise InputError(f"{results_path}: no such results file")
    records = read_results(results_path)
    if not records:
        raise InputError(f"{results_path}: no results in it")
    spec_file = Path(spec_path) if spec_path else results_path.with_name(SPEC_NAME)
    spec = json.loads(spec_file.read_text()) if spec_file.is_file() else {}
    res = Results(records, spec)
    out = Path(out_dir) if out_dir else results_path.parent
    out.mkdir(parents=True, exist_ok=True)
    anc = res.anchor(anchor)
    if anc is not None and anc not in res.codecs:
        raise InputError(f"anchor {anc!r} is not a codec in the results ({', '.join(res.codecs)})")
    refs_filter = spec.get("references")
    mod = load_plugin(plugin) if plugin else None  # never the spec.json's own: a results folder runs no code

    L: list[str] = [f"# Benchmark report: {res.run}", ""]
    L.append(f"Generated by `gscodec report` from `{results_path.name}`: {len(res.all)} jobs, {len(res.ok)} ok, "
             f"{len(res.failed)} failed. Nothing was re-run; the same results give the same report.")
    envs = sorted({json.dumps(r.get("env", {}), sort_keys=True) for r in res.ok})
    devices = sorted({str(r.get("device")) for r in res.ok})
    if envs:
        e = json.loads(envs[0])
        L.append(f"Measured with gscodec {e.get('gscodec', '?')}, torch {e.get('torch', '?')}, "
                 f"Python {e.get('python', '?')} on {e.get('machine', '?')} "
                 f"({e.get('threads', '?')} threads{', ' + e['cpu'] if e.get('cpu') else ''}); "
                 f"device: {', '.join(devices)}."
                 + (" (several environments in this file)" if len(envs) > 1 else ""))
    refs = sorted({r.get("reference", "?") for r in res.ok})
    L.append(f"Quality is measured against: {', '.join(refs) or '-'}. Sizes are whole .gsz files "
             "(1 KB = 1000 B, 1 MB = 10^6 B). BD-rate / BD-PSNR: Bjøntegaard deltas with PCHIP "
             "interpolation on log-rate, against the anchor codec"
             + (f" `{anc}`" if anc else "") + "; negative BD-rate = fewer bytes for the same PSNR.")
    lp_notes = sorted({r.get("lpips_note") for r in res.ok if r.get("lpips") is None and r.get("lpips_note")})
    if any(r.get("lpips") is None for r in res.ok):
        L.append("LPIPS: not computed for some or all jobs (no local LPIPS weights; set GSCODEC_LPIPS_WEIGHTS).")
    L += _provenance_lines(res.all)
    L.append("")
    if spec.get("notes"):
        L += ["Notes: " + " ".join(str(spec["notes"]).split()), ""]
    if mod is None and spec.get("report"):
        L += [f"This run's spec names a report plug-in (`{spec['report']}`) whose sections are not in this report: "
              f"`gscodec report {results_path.name} --plugin {spec['report']}` adds them (a results folder's "
              "spec.json never runs code by itself).", ""]
    if mod is not None:
        L += list(mod.sections(res, out)) + [""]
        if callable(getattr(mod, "summary", None)):
            from gscodec.utils.io import atomic_write_text

            commits = _commits(res.all)
            summ = {"summary": {**mod.summary(res), "git_commit": commits[-1] if len(commits) == 1 else commits},
                    "results": results_path.name, "plugin": str(plugin)}
            atomic_write_text(out / SUMMARY_NAME, json.dumps(summ, indent=2, sort_keys=True, default=str) + "\n")

    bd_by_scene: dict[str, dict[str, tuple]] = {}
    for scene in res.scenes:
        ds = res.dataset_of(scene)
        L += [f"## Scene `{scene}` (dataset `{ds}`)", ""]
        first = next((r for r in res.ok if r["scene"] == scene), None)
        if first and first.get("uncompressed"):
            u = first["uncompressed"]
            bits = [f"source `{first.get('source')}`"]
            if first.get("train_iterations"):
                bits.append(f"trained {first['train_iterations']} iterations")
            if _finite(first.get("train_seconds")) and first.get("train_shared"):
                bits.append(f"training {first['train_seconds'] / 60:.1f} min "
                            "(once, shared by the post-training codecs)")
            bits.append(f"{u.get('splats', 0):,} splats")
            bits.append(f"uncompressed .ply {_fmt_size(u.get('bytes'))}")
            if _finite(u.get("psnr")):
                bits.append(f"PSNR {u['psnr']:.2f} dB, SSIM {_fmt(u.get('ssim'), '.4f')}")
            L += ["Uncompressed: " + "; ".join(bits) + ".", ""]
        rows = []
        for c in res.codecs:
            for r in res.curve(scene, c):
                u = (r.get("uncompressed") or {}).get("bytes")
                rows.append([c, _rate_label(r), _fmt_size(r.get("bytes")),
                             _fmt(u / r["bytes"], ".1f") + "x" if u and r.get("bytes") else "-",
                             _fmt(r.get("psnr"), ".2f"), _fmt(r.get("ssim"), ".4f"), _fmt(r.get("lpips"), ".4f"),
                             _fmt(r.get("splats"), ","), _fmt(r.get("encode_seconds"), ".2f"),
                             _fmt(r.get("decode_seconds"), ".2f"),
                             _fmt(r.get("train_seconds"), ".0f") + (" (shared)" if r.get("train_shared") else "")
                             if r.get("train_seconds") is not None else "-"])
        if rows:
            L += _table(["codec", "rate point", "size", "ratio", "PSNR dB", "SSIM", "LPIPS", "splats", "encode s",
                         "decode s", "train s"], rows, "llrrrrrrrrr")
        else:
            L.append("No successful jobs.")
        L.append("")
        if anc:
            bd_rows, bd_by_scene[scene] = [], {}
            single = [c for c in res.codecs if c != anc and len(res.curve(scene, c)) == 1]
            for c in res.codecs:
                if c == anc or c in single:
                    continue
                br, bp = _bd(res.curve(scene, anc), res.curve(scene, c))
                bd_by_scene[scene][c] = (br, bp)
                bd_rows.append([c, br.format("%"), bp.format(" dB", 3), str(len(res.curve(scene, c)))])
            if bd_rows:
                L += [f"BD against `{anc}` ({len(res.curve(scene, anc))} points):", ""]
                L += _table(["codec", "BD-rate", "BD-PSNR", "points"], bd_rows)
                warns = sorted({w for v in bd_by_scene[scene].values() for x in v for w in x.warnings})
                if warns:
                    L += ["", "(!) " + "; ".join(warns) + "."]
                L.append("")
            if single:  # one point is no curve: said once, not as a row of n/a per entry
                L += [f"No BD for the single-point entries ({', '.join(f'`{c}`' for c in single)}).", ""]

    # per-dataset averages, plots, published points
    for ds in res.datasets:
        scenes = [s for s in res.scenes if res.dataset_of(s) == ds]
        key = canonical_dataset(ds)
        pub = published_for(ds, published_path, refs_filter) if published else {}
        L += [f"## Dataset `{ds}`: averages over {len(scenes)} scene{'s' if len(scenes) != 1 else ''}", ""]
        rows = []
        for c in res.codecs:
            for r in res.dataset_curve(ds, c):
                rows.append([c, _rate_label(r), _fmt_size(r["bytes"]), _fmt(r["psnr"], ".2f"), _fmt(r["ssim"], ".4f"),
                             _fmt(r["lpips"], ".4f")])
        if rows:
            L += _table(["codec", "rate point", "mean size", "PSNR dB", "SSIM", "LPIPS"], rows, "llrrrr") + [""]
        if anc:
            rank = []
            for c in res.codecs:
                if c == anc:
                    rank.append((0.0, None, c, len(scenes), "0 (anchor)"))
                    continue
                if all(len(res.curve(s, c)) <= 1 for s in scenes):  # no curve anywhere: not ranked
                    continue
                vals = [bd_by_scene.get(s, {}).get(c) for s in scenes]
                ok = [v for v in vals if v and v[0].ok]
                okp = [v for v in vals if v and v[1].ok]
                if ok:
                    rank.append((float(np.mean([v[0].value for v in ok])),
                                 float(np.mean([v[1].value for v in okp])) if okp else None, c, len(ok), ""))
                else:
                    why = next((v[0].reason for v in vals if v), "no results")
                    rank.append((math.inf, None, c, 0, f"n/a ({why})"))
            rank.sort(key=lambda t: (t[0], t[2]))
            L += [f"Ranking by mean BD-rate against `{anc}` (lower is better):", ""]
            L += _table(["rank", "codec", "mean BD-rate", "mean BD-PSNR", "scenes"],
                        [[str(i + 1), c, note or f"{br:+.2f}%", "-" if bp is None else f"{bp:+.3f} dB", str(n)]
                         for i, (br, bp, c, n, note) in enumerate(rank)], "rlrrr") + [""]
        rd = plot_rd(res, ds, out / f"rd_{_slug(ds)}.png", pub)
        sz = plot_sizes(res, ds, out / f"sizes_{_slug(ds)}.png")
        L += [f"![RD curves, {ds}]({rd.name})", "", f"![size breakdown, {ds}]({sz.name})", ""]
        if pub:
            L += [f"### Published reference points for {DATASET_NAMES.get(key, ds)} (NOT measured here)", "",
                  "Transcribed from the papers (their hardware, training and full-resolution data); "
                  "shown as a separate dashed series and never mixed into the tables or BD-rates above.", ""]
            prow = [[m, p.label or "-", f"{p.size_mb:.2f} MB", f"{p.psnr:.2f}", _fmt(p.ssim, ".3f"),
                     _fmt(p.lpips, ".3f"), p.source] for m, pts in pub.items() for p in pts]
            L += _table(["method", "point", "size", "PSNR dB", "SSIM", "LPIPS", "source"], prow, "llrrrrl") + [""]
        elif published:
            L += [f"No published numbers for dataset `{ds}` (published series exist for: "
                  f"{', '.join(DATASET_NAMES.values())}).", ""]

    if res.failed:
        L += ["## Failed jobs", ""]
        L += _table(["scene", "codec", "rate point", "error"],
                    [[r["scene"], r["codec"], _rate_label(r), _md_cell(r.get("error", "?"))]
                     for r in sorted(res.failed, key=lambda r: r["key"])], "llll") + [""]
    if lp_notes:
        L += ["LPIPS notes: " + "; ".join(lp_notes), ""]
    path = out / REPORT_NAME
    from gscodec.utils.io import atomic_write_text

    atomic_write_text(path, "\n".join(L).rstrip() + "\n")
    return path


__all__ = ["REPORT_NAME", "SUMMARY_NAME", "Results", "build_report", "load_plugin", "new_figure", "plot_rd", "plot_sizes", "save_figure"]
