"""`gscodec eval`: render a reference and a decoded scene from the same cameras and compare.

The reference renders stand in for ground truth, so the numbers measure what the codec
lost, not how good the original training was.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gscodec.data.cameras import Camera, orbit_cameras
from gscodec.errors import InputError
from gscodec.scene import GaussianScene, load_ply


@dataclass
class LoadedScene:
    scene: GaussianScene
    path: Path
    file_bytes: int
    decode_seconds: float | None = None  # set for .gsz inputs


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


def pair_report(ref: LoadedScene, test: LoadedScene, m: dict, views: int) -> dict:
    """What `gscodec eval` reports of any two inputs (static or dynamic): the scores of `test`
    against `ref` (compare_scenes' dict), sizes, splat counts and the decode time."""
    return {"reference": str(ref.path), "decoded": str(test.path), "views": views,
            "psnr": m["psnr"], "ssim": m["ssim"], "lpips": m["lpips"],
            "reference_bytes": ref.file_bytes, "decoded_bytes": test.file_bytes,
            "ratio": ref.file_bytes / max(test.file_bytes, 1),
            "reference_splats": len(ref.scene), "decoded_splats": len(test.scene),
            "decode_seconds": test.decode_seconds}


def print_scores(r: dict, against: str) -> None:
    print(f"PSNR         {r['psnr']:.2f} dB   ({against})")
    print(f"SSIM         {r['ssim']:.4f}")
    print(f"LPIPS        {r['lpips']:.4f}" if r["lpips"] is not None else
          "LPIPS        skipped: no weights (set GSCODEC_LPIPS_WEIGHTS or --lpips-weights)")


def auto_orbit(scene, n: int, resolution: int) -> list[Camera]:
    """n cameras on an orbit that frames the bulk of the scene (robust to stray splats)."""
    from gscodec.scene.renderable import renderable

    xyz = renderable(scene).splats(None).means.detach().cpu().float()
    if len(xyz) == 0:
        raise InputError("cannot place orbit cameras around an empty scene")
    centre = xyz.median(0).values
    radius = float(torch.quantile((xyz - centre).norm(dim=1), 0.9)) if len(xyz) > 1 else 1.0
    radius = max(radius, 1e-6)
    fov = 50.0
    dist = radius / math.sin(math.radians(fov / 2)) * 1.05
    # z-up orbit with some elevation variety; content-agnostic, identical for both scenes
    return orbit_cameras(n, dist, width=resolution, height=resolution, fov_deg=fov,
                         elevation_deg=(10.0, 40.0), target=tuple(centre.tolist()))


@dataclass
class EvalReport:
    psnr: float
    ssim: float
    lpips: float | None
    n_views: int
    ref_bytes: int
    test_bytes: int
    ref_splats: int
    test_splats: int
    decode_seconds: float | None
    per_view_psnr: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ref_bytes / max(self.test_bytes, 1)


def score_on_dataset(scene: GaussianScene, ds, indices: list[int], *, backend: str = "auto",
                     keep_images: bool = False) -> dict:
    """Mean PSNR / SSIM of `scene` rendered at the dataset views `indices` against their ground
    truth; with keep_images, also the renders (so callers need not render them again)."""
    from gscodec.eval.metrics import psnr, ssim
    from gscodec.scene.renderable import render_view, renderable

    source = renderable(scene)  # anchors: their neural Gaussians, spawned per view; spacetime: the slice

    def draw(cam):
        return render_view(source, cam, background=ds.background, backend=backend)
    ps, ss, images = [], [], []
    for i in indices:
        with torch.no_grad():
            img = draw(ds.cameras[i]).image.clamp(0, 1)
        gt = ds.image(i).to(img.device)
        ps.append(float(psnr(img, gt)))
        ss.append(float(ssim(img, gt)))
        if keep_images:
            images.append(img)
    out = {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}
    return {**out, "images": images} if keep_images else out


def compare_scenes(ref: GaussianScene, test: GaussianScene, cameras: list[Camera], *,
                   background=(0.0, 0.0, 0.0), lpips_weights: str | None = None,
                   progress: bool = True) -> dict:
    """Mean PSNR / SSIM (/ LPIPS) of `test` renders against `ref` renders; either may be any
    scene the renderable seam knows (an anchor scene renders its neural Gaussians per view)."""
    from gscodec.eval.metrics import LpipsUnavailable, lpips, psnr, ssim
    from gscodec.scene.renderable import render_view, renderable
    from gscodec.utils.progress import progress_iter

    ref, test = renderable(ref), renderable(test)
    psnrs, ssims, lps = [], [], []
    lpips_ok = True
    for cam in progress_iter(cameras, "rendering views", enabled=progress):
        with torch.no_grad():
            a = render_view(ref, cam, background=background).image.clamp(0, 1)
            b = render_view(test, cam, background=background).image.clamp(0, 1)
        psnrs.append(float(psnr(b, a)))
        ssims.append(float(ssim(b, a)))
        if lpips_ok:
            try:
                lps.append(float(lpips(b, a, weights=lpips_weights)))
            except LpipsUnavailable:
                lpips_ok = False
    # identical views give inf (lossless); the mean is then inf too, which is the truth
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "lpips": float(np.mean(lps)) if lps else None,
            "per_view_psnr": psnrs}
