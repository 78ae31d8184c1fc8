"""`gscodec info FILE.gsz`: the header and every section's size with its share of the file."""
from __future__ import annotations

import json
from pathlib import Path


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
    return out


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
    if "groups" in info:
        print(f"\n{'storage group':<24}{'':<22}{'bytes':>12}{'share':>9}")
        for r in info["groups"]:
            print(f"{r['group']:<24}{'':<22}{r['bytes']:>12,}{100 * r['share']:>8.1f}%")
