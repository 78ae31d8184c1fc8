"""Goals and report of the peer benchmark (bench/ptc_vs_peers.py): matched-fidelity size ratios
by interpolation on our rate-distortion curve, the summary figures the issue names, the
Markdown and an RD plot."""
from __future__ import annotations

import math
from pathlib import Path

TARGET_RATIO = {"spz": 0.5, "sog": 0.5}  # issue #23: at each peer's fidelity, <= 0.5x its bytes
HIGH_PSNR_DB, HIGH_PSNR_RATIO = 45.0, 0.3  # ... and a >= 45 dB setting at <= 0.3x SPZ's bytes


def sections_of(info: dict) -> dict:
    """Bytes and method per section of a gsz_summary; the importance refinement's sections
    (refine.ATTR.R) as one."""
    out: dict = {}
    for r in info["sections"]:
        sec = out.setdefault("refinement" if r["name"].startswith("refine.") else r["name"],
                             {"bytes": 0, "method": r["method"]})
        sec["bytes"] += r["bytes"]
    return out

def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def our_curve(rows: list[dict]) -> list[dict]:
    """Our default-preset points on the Pareto front (no other point is both smaller and
    better), sorted by PSNR: the curve interpolation runs on."""
    pts = sorted((r for r in rows if r["family"] == "ours" and r.get("status") == "ok"
                  and r.get("psnr") is not None and r.get("bytes")), key=lambda r: (r["bytes"], -r["psnr"]))
    front, best = [], -math.inf
    for r in pts:
        if r["psnr"] > best:
            front.append(r)
            best = r["psnr"]
    return front


def target_rows(rows: list[dict]) -> list[dict]:
    """Our `--target-psnr` streams that ran (real streams at a peer's PSNR, never on the curve)."""
    return [r for r in rows if r["family"] == "ours-target" and r.get("status") == "ok"]


def bytes_at_psnr(curve: list[dict], psnr: float) -> tuple[float | None, str]:
    """Our bytes at `psnr`: log(bytes) interpolated linearly in PSNR between the two curve points
    around it; below our lowest point, that point's bytes (no extrapolation); None above our
    highest. Second value: how it was found."""
    if not curve or psnr > curve[-1]["psnr"]:
        return None, "above our highest PSNR"
    if psnr <= curve[0]["psnr"]:
        return float(curve[0]["bytes"]), f"{curve[0]['method']} (our lowest point is above it)"
    for a, b in zip(curve, curve[1:]):
        if a["psnr"] <= psnr <= b["psnr"]:
            t = (psnr - a["psnr"]) / (b["psnr"] - a["psnr"]) if b["psnr"] > a["psnr"] else 1.0
            return float(math.exp((1 - t) * math.log(a["bytes"]) + t * math.log(b["bytes"]))), \
                f"{a['method']}..{b['method']}"
    return float(curve[-1]["bytes"]), curve[-1]["method"]


def matched_psnr(rows: list[dict]) -> list[dict]:
    """Per ok peer point: our bytes at the peer's PSNR (bytes_at_psnr), the smallest measured
    setting of ours reaching it, and the verdict against TARGET_RATIO."""
    out = []
    by_input: dict[str, list[dict]] = {}
    for r in rows:
        by_input.setdefault(r["input"], []).append(r)
    for inp, rs in by_input.items():
        curve = our_curve(rs)
        for peer in rs:
            if peer["family"] not in TARGET_RATIO:
                continue
            target = TARGET_RATIO[peer["family"]]
            entry = {"input": inp, "peer": peer["method"], "family": peer["family"], "target_ratio": target,
                     "peer_status": peer.get("status")}
            if peer.get("status") != "ok" or peer.get("psnr") is None:
                entry.update(verdict="n/a", why=peer.get("note", peer.get("status")))
                out.append(entry)
                continue
            entry.update(peer_bytes=peer["bytes"], peer_psnr=peer["psnr"])
            interp, how = bytes_at_psnr(curve, peer["psnr"])
            if interp is None:
                best = curve[-1] if curve else None
                entry.update(verdict="not met", why="no setting of ours reaches the peer's PSNR"
                             + (f" (best {best['method']}: {best['psnr']:.2f} dB)" if best else ""))
            else:
                m = min((r for r in curve if r["psnr"] >= peer["psnr"]), key=lambda r: r["bytes"])
                ratio = interp / peer["bytes"]
                entry.update(ours=m["method"], ours_bytes=m["bytes"], ours_psnr=m["psnr"],
                             ours_bytes_interp=interp, interp_between=how, ratio=ratio,
                             ratio_nearest=m["bytes"] / peer["bytes"], verdict="met" if ratio <= target else "not met")
            tm = next((r for r in target_rows(rs) if r["params"]["for"] == peer["method"]), None)
            if tm is not None:
                entry.update(target_mode_bytes=tm["bytes"], target_mode_psnr=tm.get("psnr"),
                             target_mode_ratio=tm["bytes"] / peer["bytes"],
                             target_mode_reached=bool(tm.get("psnr") is not None and tm["psnr"] >= peer["psnr"]))
            out.append(entry)
    return out


def summary(rows: list[dict], goals: list[dict], timing: list[dict], load: list[dict], commit: str) -> dict:
    """The figures issue #23 asks for, under its names."""
    def worst(fam):
        r = [g["ratio"] for g in goals if g["family"] == fam and g.get("ratio") is not None]
        missing = [g for g in goals if g["family"] == fam and g.get("verdict") == "not met" and g.get("ratio") is None]
        return (math.inf if missing else max(r)) if (r or missing) else None

    def worst_target(fam):  # a stream that missed its peer's PSNR counts as no answer (inf), as in worst()
        r = [g["target_mode_ratio"] if g.get("target_mode_reached") else math.inf
             for g in goals if g["family"] == fam and g.get("target_mode_ratio") is not None]
        return max(r) if r else None

    ceil, at45, at45_target = [], [], []
    by_input: dict[str, list[dict]] = {}
    for r in rows:
        by_input.setdefault(r["input"], []).append(r)
    for rs in by_input.values():
        curve = our_curve(rs)
        spz = [r for r in rs if r["family"] == "spz" and r.get("status") == "ok" and r.get("psnr") is not None]
        if curve and spz:
            ceil.append(curve[-1]["psnr"] - max(r["psnr"] for r in spz))
            b, _ = bytes_at_psnr(curve, HIGH_PSNR_DB)
            if b is not None:
                at45.append(b / min(r["bytes"] for r in spz))
            t45 = [r for r in target_rows(rs) if r["params"]["target_psnr"] == HIGH_PSNR_DB
                   and (r.get("psnr") or 0) >= HIGH_PSNR_DB]
            if t45:
                at45_target.append(t45[0]["bytes"] / min(r["bytes"] for r in spz))
    total_b = sum(x["ply_bytes"] for x in load)
    out = {"max_size_ratio_vs_spz_at_matched_psnr": worst("spz"),
           "max_size_ratio_vs_sog_at_matched_psnr": worst("sog"),
           "min_ceiling_minus_spz_psnr_db": min(ceil) if ceil else None,
           f"max_size_ratio_vs_spz_at_{HIGH_PSNR_DB:g}db": max(at45) if at45 else None,
           # the same through `gscodec encode --target-psnr` (ladder + per-attribute widths), real streams
           "max_size_ratio_vs_spz_target_mode": worst_target("spz"),
           "max_size_ratio_vs_sog_target_mode": worst_target("sog"),
           f"max_size_ratio_vs_spz_at_{HIGH_PSNR_DB:g}db_target_mode": max(at45_target) if at45_target else None,
           "load_seconds_per_100mb": (1e8 * sum(x["load_s"] for x in load) / total_b) if total_b else None,
           "git_commit": commit}
    for t in timing:
        if t.get("status") == "ok":
            out[f"encode_s_{t['n'] // 1000}k_q{t['quality']}"] = t["encode_s"]
            out[f"decode_s_{t['n'] // 1000}k_q{t['quality']}"] = t["decode_s"]
    return out


def plot_rd(rows: list[dict], path: Path) -> Path | None:
    """One panel per input: our curve (log bytes vs PSNR) and the peers' points."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    inputs = list(dict.fromkeys(r["input"] for r in rows))
    if not inputs:
        return None
    fig, axes = plt.subplots(1, len(inputs), figsize=(4.2 * len(inputs), 3.6), squeeze=False)
    marks = {"SPZ (spz-js)": "s", "SPZ v4 (splat-transform)": "D", "SOG (splat-transform)": "^",
             "gsplat PNG layout (ours)": "x"}
    for ax, inp in zip(axes[0], inputs):
        rs = [r for r in rows if r["input"] == inp]
        ours = sorted((r for r in rs if r["family"] == "ours" and r.get("status") == "ok" and r.get("psnr")),
                      key=lambda r: r["bytes"])
        ax.plot([r["bytes"] for r in ours], [r["psnr"] for r in ours], "o-", label="ours (ptc q1..q8)", ms=3)
        plain = sorted((r for r in rs if r["family"] == "ours-uniform" and r.get("status") == "ok" and r.get("psnr")),
                       key=lambda r: r["bytes"])
        if plain:
            ax.plot([r["bytes"] for r in plain], [r["psnr"] for r in plain], ".--", ms=3, alpha=0.6,
                    label="ours, preset uniform (no refinement)")
        tm = [r for r in target_rows(rs) if r.get("psnr")]
        if tm:
            ax.plot([r["bytes"] for r in tm], [r["psnr"] for r in tm], "*", ms=7, label="ours --target-psnr")
        for r in rs:
            if r["method"] in marks and r.get("status") == "ok" and r.get("psnr"):
                ax.plot(r["bytes"], r["psnr"], marks[r["method"]], label=r["method"])
        ax.set_xscale("log")
        ax.set_title(inp, fontsize=9)
        ax.set_xlabel("bytes")
        ax.set_ylabel("PSNR dB vs original's renders")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_markdown(path: Path, meta: dict, rows: list[dict], goals: list[dict], timing: list[dict]) -> None:
    L = ["# Post-training codec (ptc) vs peers", "",
         f"Generated by `python bench/ptc_vs_peers.py{' --quick' if meta['quick'] else ''}` on {meta['date']}.",
         f"Machine: {meta['platform']}, {meta['cpu_count']} CPU cores (shared: load average "
         f"{meta['loadavg_start'][0]:.2f} at start, {meta['loadavg_end'][0]:.2f} at end), torch {meta['torch']}, "
         f"node {meta['tools'].get('node')}. Tools: spz-js {meta['tools'].get('spz-js')}, "
         f"@playcanvas/splat-transform {meta['tools'].get('@playcanvas/splat-transform')} "
         f"(SPZ writer @adobe/spz {meta['tools'].get('@adobe/spz')}), SOG encoded with `-g cpu`.", "",
         "PSNR/SSIM: our CPU rasterizer renders the decoded scene and the original from the same orbit "
         "cameras (`auto_orbit`, black background); the original's renders are the reference. Peer times are "
         "wall times of the node converter process (start-up and PLY parsing included); ours are in-process "
         "`encode()` / `decode()` times. Timings are noisy: the 2 cores are shared with other jobs.", ""]
    if meta.get("notes"):
        L += ["Notes on this run:", ""] + [f"- {n}" for n in meta["notes"]] + [""]
    by_input: dict[str, list[dict]] = {}
    for r in rows:
        by_input.setdefault(r["input"], []).append(r)
    for inp, rs in by_input.items():
        r0 = rs[0]
        L += [f"## {inp}: {r0['splats_in']:,} splats, SH degree {r0['sh_degree']}, PLY {r0['ply_bytes']:,} B", "",
              f"{r0['views']} views at {r0['resolution']}x{r0['resolution']}."
              + (f" Non-finite opacity values in the input PLY: {r0['nonfinite_opacity_in_input']}."
                 if r0.get("nonfinite_opacity_in_input", 0) > 0 else ""), "",
              "| method | bytes | x smaller than PLY | bits/splat | PSNR dB | SSIM | encode s | decode s | splats out | note |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rs:
            note = r.get("note", "")
            if r.get("nonfinite_opacity_in_decoded_ply", 0) > 0:
                note += f" decoded PLY has {r['nonfinite_opacity_in_decoded_ply']} non-finite opacities"
            if r.get("status") not in ("ok", None):
                note = f"**{r['status']}**: {note}"
            L.append(f"| {r['method']} | {_fmt(r.get('bytes'), ',d')} | {_fmt(r.get('ratio_vs_ply'), '.1f')} | "
                     f"{_fmt(r.get('bits_per_splat'), '.1f')} | {_fmt(r.get('psnr'), '.2f')} | "
                     f"{_fmt(r.get('ssim'), '.4f')} | {_fmt(r.get('encode_s'), '.2f')} | "
                     f"{_fmt(r.get('decode_s'), '.2f')} | {r.get('splats_out', '-')} | {note.strip()} |")
        for fam, title in (("ours", "Our sections (default preset; `gscodec info`; refinement: the "
                                    "importance refinement's sections together)"),
                           ("ours-uniform", "Our sections, preset uniform (every splat on one grid, no refinement)"),
                           ("gsplat-png", "gsplat PNG layout sections")):
            ours = [r for r in rs if r.get("sections") and r.get("status") == "ok" and r["family"] == fam]
            if not ours:
                continue
            names = []
            for r in ours:
                names += [s for s in r["sections"] if s not in names]
            L += ["", f"{title}: bytes (share of the file)", "",
                  "| method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            for r in ours:
                cells = []
                for s in names:
                    sec = r["sections"].get(s)
                    cells.append("-" if sec is None else f"{sec['bytes']:,} ({100 * sec['bytes'] / r['bytes']:.0f}%)")
                L.append(f"| {r['method']} | " + " | ".join(cells) + " |")
        tm = target_rows(rs)
        if tm:
            L += ["", "`gscodec encode --target-psnr` (the ladder's smallest level that reaches the target, then "
                  "per-attribute widths around it when they reach it in fewer bytes):", "",
                  "| target dB | for | ladder level (bytes) | widths: positions / scales / quats / opacity / SH DC "
                  "| bytes | PSNR dB | encode s |", "|---:|---|---|---|---:|---:|---:|"]
            for r in tm:
                p, a = r["params"], r["params"].get("allocated")
                w = (f"{a['position_bits']} / " + " / ".join(str(a["bits"][k]) for k in
                                                              ("scales", "quats", "opacity", "sh_dc"))
                     if a else "the level's")
                L.append(f"| {p['target_psnr']:.2f} | {p['for']} | q{p['quality']} ({p['ladder_bytes']:,}) | {w} | "
                         f"{r['bytes']:,} | {_fmt(r.get('psnr'), '.2f')} | {_fmt(r.get('encode_s'), '.1f')} |")
        L.append("")
    L += ["## Goals (matched PSNR)", "",
          "For each peer point: our bytes at the peer's PSNR, interpolated on our curve (log bytes linear in "
          "PSNR between the two default-preset points around it, Pareto front only; below our lowest point, "
          "that point's bytes), and the smallest measured setting of ours reaching it. Goal: at most 0.5x the "
          "peer's bytes (SPZ and SOG).", "",
          "*--target-psnr*: the stream `gscodec encode --target-psnr PEER_PSNR` writes (same cameras), and its "
          "size over the peer's.", "",
          "| input | peer | peer bytes | peer PSNR | ours interpolated bytes | between | ours/peer | nearest ours "
          "(bytes, PSNR) | nearest/peer | --target-psnr bytes (PSNR) | --target-psnr/peer | target | verdict |",
          "|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---|"]
    for g in goals:
        near = f"{g['ours']} ({g['ours_bytes']:,}, {g['ours_psnr']:.2f})" if g.get("ours") else "-"
        L.append(f"| {g['input']} | {g['peer']} | {_fmt(g.get('peer_bytes'), ',d')} | {_fmt(g.get('peer_psnr'), '.2f')} | "
                 f"{_fmt(g.get('ours_bytes_interp'), ',.0f')} | {g.get('interp_between', '-')} | {_fmt(g.get('ratio'), '.3f')} | "
                 f"{near} | {_fmt(g.get('ratio_nearest'), '.3f')} | "
                 + (f"{g['target_mode_bytes']:,} ({_fmt(g.get('target_mode_psnr'), '.2f')}"
                    + (")" if g.get("target_mode_reached") else ", **missed**)") if g.get("target_mode_bytes") else "-")
                 + f" | {_fmt(g.get('target_mode_ratio'), '.3f')} | {g['target_ratio']:.2f} | **{g['verdict']}**"
                 + (f" ({g['why']})" if g.get("why") else "") + " |")
    summ = meta.get("summary") or {}
    if summ:
        L += ["", "## Summary (the figures of issue #23)", "", "| figure | value |", "|---|---:|"]
        for k, v in summ.items():
            L.append(f"| `{k}` | {_fmt(v, '.3f') if isinstance(v, float) else v} |")
    load = meta.get("load") or []
    if load:
        L += ["", "## PLY loading (`gscodec.scene.load_ply` of this tree)", "",
              "| input | PLY bytes | load s | s per 100 MB |", "|---|---:|---:|---:|"]
        for x in load:
            L.append(f"| {x['input']} | {x['ply_bytes']:,} | {x['load_s']:.2f} | {1e8 * x['load_s'] / x['ply_bytes']:.2f} |")
    if timing:
        L += ["", f"## Speed goal: {timing[0]['n']:,} synthetic splats, SH degree 3, 2 cores "
              "(encode <= 10 s at q3, the default, and <= 20 s at q5; decode <= 2 s)", "",
              "| quality | SH rest | bytes | encode s | decode s | peak RSS MB | load avg before | encode goal | decode goal |",
              "|---|---|---:|---:|---:|---:|---:|---|---|"]
        for t in timing:
            enc = _fmt(t.get("encode_s"), ".1f") if t["status"] == "ok" else f"> {t['timeout_s']:.0f} ({t['status']})"
            L.append(f"| q{t['quality']} | {t['sh_rest_mode']} | {_fmt(t.get('bytes'), ',d')} | {enc} | {_fmt(t.get('decode_s'), '.2f')} | "
                     f"{_fmt(t.get('peak_rss_mb'), '.0f')} | {t['loadavg_1m_before']:.2f} | {'met' if t['encode_goal_met'] else 'not met'} | "
                     f"{'met' if t['decode_goal_met'] else ('not met' if t['status'] == 'ok' else 'unknown')} |")
    path.write_text("\n".join(L) + "\n")


