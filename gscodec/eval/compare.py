"""What `gscodec eval` (gscodec.eval.cli) loads, compares and reports: a reference and a decoded
scene rendered from the same cameras (gscodec.scoring), and their sizes.

The reference renders stand in for ground truth, so the numbers measure what the codec
lost, not how good the original training was. A compression ratio comes only from a .gsz.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from gscodec.data.cameras import Camera
from gscodec.errors import InputError
from gscodec.scene import GaussianScene, load_ply
from gscodec.scoring import auto_orbit, score_dataset, score_views  # noqa: F401 - auto_orbit: its old home


@dataclass
class LoadedScene:
    scene: GaussianScene
    path: Path
    file_bytes: int
    decode_seconds: float | None = None  # set for .gsz inputs

    @property
    def is_gsz(self) -> bool:
        return self.decode_seconds is not None


def file_head(path: Path, n: int = 4) -> bytes:
    """The first n bytes of a file (its magic), the file closed again."""
    with open(path, "rb") as f:
        return f.read(n)


def load_any(path: str | Path, *, keep_anchors: bool = False) -> LoadedScene:
    """A .ply or a .gsz (decoded, timed) as a GaussianScene; with keep_anchors an anchor
    stream stays an AnchorScene (render it through gscodec.scene.renderable)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    head = file_head(path)
    if head[:3] == b"ply":
        return LoadedScene(load_ply(path), path, path.stat().st_size)
    from gscodec.codecs.registry import decode_bytes, decode_to_gaussians

    data = path.read_bytes()
    t0 = time.perf_counter()
    scene = decode_bytes(data) if keep_anchors else decode_to_gaussians(data)  # else anchors: SH-fit export
    return LoadedScene(scene, path, len(data), time.perf_counter() - t0)


def compressed_file(test: LoadedScene, gsz: str | Path | None = None) -> Path | None:
    """The .gsz whose size is `test`'s compressed size: `gsz` when given (the file a decoded
    PLY came from), else `test` itself when it is one; None for a PLY alone, whose size says
    nothing of the compression (#23: it was printed as the compressed size, '0.8x')."""
    if gsz is None:
        return test.path if test.is_gsz else None
    gsz = Path(gsz)
    if not gsz.is_file():
        raise InputError(f"--gsz {gsz}: no such file")
    if file_head(gsz)[:3] == b"ply":
        raise InputError(f"--gsz {gsz}: a PLY, not a .gsz")
    return gsz


def pair_report(ref: LoadedScene, test: LoadedScene, m: dict, views: int, *, gsz: str | Path | None = None) -> dict:
    """What `gscodec eval` reports of any two inputs (static or dynamic): the scores of `test`
    against `ref` (compare_scenes' dict), what was compared, sizes, splat counts and the decode
    time. `ratio` is the reference's size over the compressed (.gsz) size, None without one."""
    gsz = compressed_file(test, gsz)
    compressed = gsz.stat().st_size if gsz is not None else None
    return {"reference": str(ref.path), "decoded": str(test.path), "views": views,
            "compares": f"{_kind(test)} {test.path.name} against {_kind(ref)} {ref.path.name}",
            "psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"],
            "reference_bytes": ref.file_bytes, "decoded_bytes": test.file_bytes,
            "reference_format": "gsz" if ref.is_gsz else "ply", "decoded_format": "gsz" if test.is_gsz else "ply",
            "compressed_file": None if gsz is None else str(gsz), "compressed_bytes": compressed,
            "ratio": ref.file_bytes / max(compressed, 1) if compressed is not None else None,
            "reference_splats": len(ref.scene), "decoded_splats": len(test.scene),
            "decode_seconds": test.decode_seconds}


def _kind(s: LoadedScene) -> str:
    return "the .gsz" if s.is_gsz else "the PLY"


def size_line(r: dict) -> str:
    """The report's sizes in words: a compression ratio only from a .gsz's size."""
    ref = f"{r['reference_bytes']:,} B ({r['reference_format'].upper()})"
    if r["compressed_bytes"] is None:
        return (f"{ref}; decoded PLY {r['decoded_bytes']:,} B - a PLY size, not a compressed size "
                "(give --gsz FILE.gsz for the ratio)")
    via = "" if r["compressed_file"] == r["decoded"] else f", {Path(r['compressed_file']).name}"
    return f"{ref} -> {r['compressed_bytes']:,} B (.gsz{via}; {r['ratio']:.1f}x)"


def print_scores(r: dict, against: str) -> None:
    print(f"PSNR         {r['psnr']:.2f} dB   ({against})")
    print(f"SSIM         {r['ssim']:.4f}")
    print(f"LPIPS        {r['lpips']:.4f}" if r["lpips"] is not None else
          "LPIPS        skipped: no weights (set GSCODEC_LPIPS_WEIGHTS or --lpips-weights)")


def score_on_dataset(scene, ds, indices: list[int], *, backend: str = "auto", keep_images: bool = False) -> dict:
    """Mean PSNR / SSIM at the dataset views `indices` (and, with keep_images, the renders):
    gscodec.scoring.score_dataset's numbers, in the dict older callers read."""
    s = score_dataset(scene, ds, indices, backend=backend, keep_images=keep_images)
    out = {"psnr": s.mean()["psnr"], "ssim": s.mean()["ssim"]}
    return {**out, "images": s.kept_images()} if keep_images else out


def compare_scenes(ref, test, cameras: list[Camera], *, background=(0.0, 0.0, 0.0), lpips_weights: str | None = None,
                   progress: bool = True) -> dict:
    """Mean PSNR / SSIM (/ LPIPS) of `test` renders against `ref` renders from `cameras`; either
    may be any scene the renderable seam knows (gscodec.scoring.score_views)."""
    s = score_views(test, cameras, ref, background=background, lpips=True, lpips_weights=lpips_weights,
                    progress=progress, desc="rendering views")
    # identical views give inf (lossless); the mean is then inf too, which is the truth
    m = s.mean()
    return {"psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"], "per_view_psnr": s.psnr}
