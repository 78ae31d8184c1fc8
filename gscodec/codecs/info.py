"""`gscodec info FILE.gsz`: the header and every section's size with its share of the file;
for a dynamic stream also its groups of frames, bytes per attribute and bitrate."""
from __future__ import annotations

import json
from pathlib import Path

from gscodec.utils.rates import mbps


def gsz_summary(data: bytes) -> dict:
    from gscodec.coding.container import unpack

    header, sections = unpack(data)
    total = len(data)
    payload = sum(len(s.data) for s in sections.values())
    rows = [{"name": s.name, "method": s.method, "bytes": len(s.data), "share": len(s.data) / total}
            for s in sections.values()]
    rows.append({"name": "(header + table)", "method": "-", "bytes": total - payload,
                 "share": (total - payload) / total})
    out = {"header": header, "sections": rows, "total_bytes": total}
    groups = header.get("section_groups")
    if isinstance(groups, dict):
        out["groups"] = storage_groups(groups, sections, total - payload, total)
    if isinstance(header.get("gofs"), list):
        out["dynamic"] = dynamic_summary(header, sections, total)
    return out


def dynamic_summary(header: dict, sections: dict, total: int) -> dict | None:
    """A dynamic stream's per-GOF rows (frames, splats, moving splats, bytes), its bytes per
    attribute summed over GOFs (section `g{k}.<what>` -> <what>) and its bitrate at the
    sequence's frame rate: total bits / (n_frames / fps) / 1e6. None if the index is unreadable
    (info describes damaged files too; decoding refuses them)."""
    try:
        fps, n_frames = float(header["fps"]), int(header["n_frames"])
        gofs = [(int(e["frames"][0]), int(e["frames"][1]), int(e["count"]), int(e["moving"])) for e in header["gofs"]]
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if not fps > 0 or n_frames < 1:
        return None
    rows = [{"gof": k, "frames": [f0, f1], "count": n, "moving": m, "bytes": 0} for k, (f0, f1, n, m) in enumerate(gofs)]
    attributes: dict[str, int] = {}
    for s in sections.values():
        head, _, what = s.name.partition(".")
        k = int(head[1:]) if head[:1] == "g" and head[1:].isdigit() else -1
        if 0 <= k < len(rows) and what:
            rows[k]["bytes"] += len(s.data)
            attributes[what] = attributes.get(what, 0) + len(s.data)
    seconds = n_frames / fps
    return {"fps": fps, "n_frames": n_frames, "seconds": seconds, "mbps": mbps(total, n_frames, fps),
            "bytes_per_frame": total / n_frames, "gofs": rows,
            "attributes": [{"name": a, "bytes": b, "share": b / total} for a, b in attributes.items()]}


def _print_dynamic(d: dict, total: int) -> None:
    print(f"{'frames':<15}{d['n_frames']} at {d['fps']:g} fps ({d['seconds']:.2f} s)")
    print(f"{'bitrate':<15}{d['mbps']:.4f} Mbps  ({d['bytes_per_frame']:,.0f} B per frame)")
    print(f"\n{'GOF':<6}{'frames':<14}{'splats':>10}{'moving':>10}{'bytes':>12}{'share':>9}")
    for r in d["gofs"]:
        f0, f1 = r["frames"]
        print(f"{r['gof']:<6}{f'{f0}-{f1 - 1}':<14}{r['count']:>10,}{r['moving']:>10,}{r['bytes']:>12,}"
              f"{100 * r['bytes'] / total:>8.1f}%")
    print(f"\n{'attribute (all GOFs)':<24}{'':<22}{'bytes':>12}{'share':>9}")
    for r in d["attributes"]:
        print(f"{r['name']:<24}{'':<22}{r['bytes']:>12,}{100 * r['share']:>8.1f}%")


def storage_groups(groups: dict, sections: dict, overhead: int, total: int) -> list[dict]:
    """The papers' storage table (location / feature / scaling / offsets / hash / masks /
    MLPs / header) from the header's section -> group map; header = JSON header, section
    table and CRCs; sections missing from the map count as "other". Sums to the file size."""
    order = ["location", "feature", "scaling", "offsets", "hash", "masks", "MLPs"]
    sizes: dict[str, int] = {}
    for s in sections.values():
        g = groups.get(s.name, "other")
        g = g if isinstance(g, str) else "other"
        sizes[g] = sizes.get(g, 0) + len(s.data)
    names = [g for g in order if g in sizes] + sorted(g for g in sizes if g not in order) + ["header"]
    sizes["header"] = overhead
    return [{"group": g, "bytes": sizes[g], "share": sizes[g] / total} for g in names]


def print_gsz_info(path: Path) -> None:
    info = gsz_summary(Path(path).read_bytes())
    h = info["header"]
    print(f"{'file':<15}{path}  ({info['total_bytes']:,} B)")
    for key in ("codec", "codec_version", "format_version", "count", "sh_degree", "feat_dim", "n_offsets"):
        if key in h:
            print(f"{key:<15}{h[key]}")
    if "bounds" in h:
        lo, hi = ([round(float(v), 4) for v in b] for b in h["bounds"])
        print(f"{'bounds':<15}min {lo}  max {hi}")
    if "config" in h:
        print(f"{'config':<15}{json.dumps(h['config'], sort_keys=True)}")
    print(f"\n{'section':<24}{'method':<22}{'bytes':>12}{'share':>9}")
    for r in info["sections"]:
        print(f"{r['name']:<24}{r['method']:<22}{r['bytes']:>12,}{100 * r['share']:>8.1f}%")
    if info.get("dynamic"):
        print()
        _print_dynamic(info["dynamic"], info["total_bytes"])
    if "groups" in info:
        print(f"\n{'storage group':<24}{'':<22}{'bytes':>12}{'share':>9}")
        for r in info["groups"]:
            print(f"{r['group']:<24}{'':<22}{r['bytes']:>12,}{100 * r['share']:>8.1f}%")
