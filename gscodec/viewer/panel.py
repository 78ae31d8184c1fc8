"""Markdown for the side panel: what matters for compression."""
from __future__ import annotations


def _size(n: int) -> str:
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.2f} {unit}"
    return f"{n} B"


def source_markdown(info: dict) -> str:
    n, b = info.get("splats", 0), info.get("bytes", 0)
    rows = [("file size", f"{_size(b)} ({b:,} B)"), ("splats", f"{n:,}"),
            *([("anchors", f"{info['anchors']:,}")] if info.get("anchors") is not None else []),
            ("SH degree", str(info.get("sh_degree", "?"))),
            ("bits / splat", f"{8 * b / n:.1f}" if n else "-"),
            ("format", info.get("format", "?") + (f" ({info['codec']})" if info.get("codec") else ""))]
    if info.get("load_seconds") is not None:
        rows.append(("load + decode" if info.get("format") == "gsz" else "load",
                     f"{info['load_seconds']:.2f} s"))
    lines = ["| | |", "|:--|--:|"] + [f"| {k} | {v} |" for k, v in rows]
    sections = info.get("sections")
    if sections:
        lines += ["", "| section | bytes | share |", "|:--|--:|--:|"]
        lines += [f"| {r['name']} | {r['bytes']:,} | {100 * r['share']:.1f}% |" for r in sections]
    return "\n".join(lines)


def dataset_markdown(ds) -> str:
    return (f"{len(ds.cameras)} cameras: {len(ds.train_indices)} train, {len(ds.test_indices)} test. "
            "Jump to one to see the PSNR of the shown scene against its ground-truth image.")


def dynamic_markdown(info: dict) -> str:
    """A dynamic stream: size, frames, bitrate, and one row per GOF (frames, splats, bytes,
    Mbps over that GOF's duration), as `gscodec info` reports them."""
    rows = [("file size", f"{_size(info['bytes'])} ({info['bytes']:,} B)"),
            ("codec", info.get("codec", "?")),
            ("frames", f"{info['n_frames']} at {info['fps']:g} fps ({info['seconds']:.2f} s)"),
            ("bitrate", f"{info['mbps']:.3f} Mbps"),
            ("splats (all GOFs)", f"{info['splats']:,}")]
    lines = ["| | |", "|:--|--:|"] + [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "| GOF | frames | splats | bytes | Mbps |", "|:--|:--|--:|--:|--:|"]
    for r in info["gofs"]:
        f0, f1 = r["frames"]
        lines.append(f"| {r['gof']} | {f0}-{f1 - 1} | {r['splats']:,} | {r['bytes']:,} | {r['mbps']:.3f} |")
    return "\n".join(lines)
