"""One entry point for every dataset kind, chosen from the folder's layout."""
from __future__ import annotations

import os
from pathlib import Path

from gscodec.data.dataset import Dataset
from gscodec.errors import InputError


def load_dataset(path_or_name: str | os.PathLike, downscale: int = 1, **kw) -> Dataset:
    """'builtin' or 'builtin:RES' -> the built-in scene; 'builtin-dynamic' or
    'builtin-dynamic:RES[:FRAMES]' -> the built-in dynamic scene; a folder with poses_bounds.npy +
    cam*.mp4 -> Neural 3D Video; with transforms_train.json -> NeRF-synthetic (D-NeRF when its
    frames have times); with sparse/ -> COLMAP. Extra keywords go to that loader."""
    spec = str(path_or_name)
    for name, default_res in (("builtin-dynamic", 96), ("builtin", 128)):
        if spec == name or spec.startswith(name + ":"):
            if spec != name:  # builtin:RES, builtin-dynamic:RES or builtin-dynamic:RES:FRAMES
                parts = spec.split(":")[1:]
                try:
                    if not 1 <= len(parts) <= (2 if name == "builtin-dynamic" else 1):
                        raise ValueError
                    kw.setdefault("resolution", int(parts[0]))
                    if len(parts) == 2:
                        kw.setdefault("n_frames", int(parts[1]))
                except ValueError:
                    form = f"'{name}:RES' or '{name}:RES:FRAMES'" if name == "builtin-dynamic" else f"'{name}:RES'"
                    raise InputError(f"bad built-in scene spec {spec!r}: use '{name}' or {form} "
                                     f"(e.g. {name}:{default_res})") from None
            if kw.get("resolution", default_res) < 8:
                raise InputError(f"built-in scene resolution must be >= 8, got {kw['resolution']}")
            if name == "builtin":
                from gscodec.data.synthetic import load_builtin
            else:
                from gscodec.data.synthetic_dynamic import load_builtin_dynamic as load_builtin
            return load_builtin(downscale=downscale, **kw)
    root = Path(spec).expanduser()
    if not root.exists():
        raise InputError(f"dataset not found: {root} (expected a folder, 'builtin' or 'builtin:RES')")
    if not root.is_dir():
        raise InputError(f"dataset {root} is not a folder")
    from gscodec.data.n3dv import is_n3dv

    if is_n3dv(root):
        from gscodec.data.n3dv import load_n3dv

        return load_n3dv(root, downscale=downscale, **kw)
    if (root / "transforms_train.json").is_file():
        from gscodec.data.nerf_synthetic import load_nerf_synthetic

        return load_nerf_synthetic(root, downscale=downscale, **kw)
    if (root / "sparse").is_dir():
        from gscodec.data.colmap import load_colmap

        return load_colmap(root, downscale=downscale, **kw)
    raise InputError(f"{root}: unknown dataset layout; expected transforms_train.json (NeRF-synthetic)"
                     " or sparse/0 + images/ (COLMAP) or poses_bounds.npy + cam*.mp4 (Neural 3D Video),"
                     " or use 'builtin' / 'builtin-dynamic'")
