"""Published reference points (papers and their baselines), kept apart from our measurements.

The numbers live in `published.toml` next to this module (or any TOML file with the same
`[[point]]` layout): method, dataset, optional label, psnr, ssim, lpips, size_mb, source.
A report adds them only for a dataset it has measured, as a separate "published" series.
"""
from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path

from gscodec.errors import InputError

PUBLISHED = Path(__file__).with_name("published.toml")

# canonical dataset key -> display name
DATASET_NAMES = {
    "mipnerf360": "Mip-NeRF360",
    "tanks_temples": "Tanks&Temples",
    "deepblending": "DeepBlending",
    "synthetic_nerf": "Synthetic-NeRF",
    "bungeenerf": "BungeeNeRF",
}
_ALIASES = {
    "mipnerf360": "mipnerf360", "360": "mipnerf360", "mip360": "mipnerf360",
    "tanksandtemples": "tanks_temples", "tankstemples": "tanks_temples", "tandt": "tanks_temples",
    "tnt": "tanks_temples", "tanktemples": "tanks_temples",
    "deepblending": "deepblending", "db": "deepblending",
    "syntheticnerf": "synthetic_nerf", "nerfsynthetic": "synthetic_nerf", "blender": "synthetic_nerf",
    "bungeenerf": "bungeenerf",
}


def canonical_dataset(name: str | None) -> str | None:
    """'Mip-NeRF360', 'mipnerf360', 'Tanks&Temples', 'nerf_synthetic' ... -> a canonical key;
    None for unknown names (no published numbers then)."""
    if not name:
        return None
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return _ALIASES.get(key)


@dataclass(frozen=True)
class PublishedPoint:
    method: str
    dataset: str
    psnr: float
    size_mb: float
    source: str
    label: str = ""
    ssim: float | None = None
    lpips: float | None = None

    @property
    def bytes(self) -> float:
        return self.size_mb * 1e6


def load_published(path: str | Path | None = None) -> list[PublishedPoint]:
    path = Path(path) if path else PUBLISHED
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"{path}: cannot read published numbers ({e})") from None
    out = []
    for i, p in enumerate(data.get("point", [])):
        missing = {"method", "dataset", "psnr", "size_mb", "source"} - set(p)
        if missing:
            raise InputError(f"{path}: point {i} lacks {', '.join(sorted(missing))}")
        ds = canonical_dataset(p["dataset"]) or p["dataset"]
        out.append(PublishedPoint(method=p["method"], dataset=ds, psnr=float(p["psnr"]),
                                  size_mb=float(p["size_mb"]), source=p["source"], label=p.get("label", ""),
                                  ssim=p.get("ssim"), lpips=p.get("lpips")))
    return out


def published_for(dataset: str | None, path: str | Path | None = None,
                  methods: list[str] | None = None) -> dict[str, list[PublishedPoint]]:
    """Published series for one dataset: method -> points sorted by size (empty if none)."""
    key = canonical_dataset(dataset)
    if key is None:
        return {}
    series: dict[str, list[PublishedPoint]] = {}
    for p in load_published(path):
        if p.dataset == key and (methods is None or p.method in methods):
            series.setdefault(p.method, []).append(p)
    return {m: sorted(v, key=lambda p: p.size_mb) for m, v in sorted(series.items())}


__all__ = ["DATASET_NAMES", "PublishedPoint", "canonical_dataset", "load_published", "published_for"]
