"""The one test-view scorer: render a scene from cameras and score each view against a target.

Why one: `gscodec eval`, `gscodec bench`, the training runs (static, anchor, dynamic) and the
trainer's own evaluation used to each write this loop out, and they drifted (one could not
render anchors, one had LPIPS, one's LPIPS an anchor run never reached). `score_views` goes
through the renderable-scene seam (gscodec.scene.renderable), so any scene it knows - plain
Gaussians, an anchor scene's per-view neural Gaussians, a spacetime scene or sequence at each
camera's time - is scored the same way, with LPIPS whenever it is asked for and weights exist.

Layering: gscodec.metrics (leaf) <- this module <- train, eval, bench; it imports neither.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from gscodec.data.cameras import Camera, orbit_cameras
from gscodec.errors import InputError
from gscodec.metrics import LpipsUnavailable, psnr, ssim
from gscodec.metrics import lpips as lpips_metric  # `lpips` is score_views' flag
from gscodec.scene.renderable import render_view, renderable
from gscodec.utils.progress import progress_iter


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


@dataclass
class Scores:
    """Per-view PSNR / SSIM (/ LPIPS) of one scored set of views, in camera order."""

    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    lpips: list[float] | None = None  # None: not asked for, or unavailable (then lpips_note says why)
    lpips_note: str | None = None
    frames: list[int | None] = field(default_factory=list)  # each camera's frame (dynamic scenes)
    images: dict[int, torch.Tensor] = field(default_factory=dict)  # kept renders, by camera position

    @property
    def views(self) -> int:
        return len(self.psnr)

    def mean(self) -> dict:
        """{'psnr', 'ssim', 'lpips' (None without), 'views', 'lpips_note'} over all views."""
        return {"psnr": _mean(self.psnr), "ssim": _mean(self.ssim),
                "lpips": _mean(self.lpips) if self.lpips else None, "views": self.views,
                "lpips_note": self.lpips_note}

    def kept_images(self) -> list[torch.Tensor]:
        return [self.images[k] for k in sorted(self.images)]

    def per_frame(self) -> list[dict]:
        """[{frame, psnr, ssim[, lpips]}], each the mean over that frame's views, by frame."""
        by_frame: dict = {}
        for k, f in enumerate(self.frames):
            by_frame.setdefault(f, []).append(k)
        rows = []
        for f, ks in sorted(by_frame.items()):
            row = {"frame": f, "psnr": _mean([self.psnr[k] for k in ks]), "ssim": _mean([self.ssim[k] for k in ks])}
            if self.lpips:
                row["lpips"] = _mean([self.lpips[k] for k in ks])
            rows.append(row)
        return rows


def score_views(scene, cameras: Sequence[Camera], targets, *, background=(0.0, 0.0, 0.0), backend: str = "auto",
                lpips: bool = False, lpips_weights: str | None = None, keep_images: bool | set[int] = False,
                progress: bool = False, desc: str = "scoring views") -> Scores:
    """Score `scene` rendered from each of `cameras` against `targets`: a list of images, a
    function of the camera's position in `cameras`, or another scene (its renders from the
    same cameras: what a codec lost, not how good training was). With `lpips`, LPIPS too
    (weights: `lpips_weights`, else GSCODEC_LPIPS_WEIGHTS; without any, lpips_note says so).
    keep_images: True, or the positions whose renders to keep (Scores.images, by position)."""
    source = renderable(scene)
    target_of = _targets(targets, cameras, background, backend)
    out = Scores(lpips=[] if lpips else None)
    for k, cam in enumerate(progress_iter(cameras, desc, enabled=progress, total=len(cameras))):
        with torch.no_grad():
            img = render_view(source, cam, background=background, backend=backend).image.clamp(0, 1)
        ref = target_of(k).to(img.device)
        out.psnr.append(float(psnr(img, ref)))
        out.ssim.append(float(ssim(img, ref)))
        out.frames.append(getattr(cam, "frame", None))
        if out.lpips is not None:
            try:
                out.lpips.append(float(lpips_metric(img, ref, weights=lpips_weights)))
            except LpipsUnavailable as e:
                out.lpips, out.lpips_note = None, str(e)
        if keep_images is True or (keep_images and k in keep_images):
            out.images[k] = img
    return out


def _targets(targets, cameras, background, backend) -> Callable[[int], torch.Tensor]:
    if isinstance(targets, (list, tuple)):
        if len(targets) != len(cameras):
            raise InputError(f"{len(cameras)} cameras but {len(targets)} target images")
        return targets.__getitem__
    if callable(targets) and not hasattr(targets, "splats"):
        return targets
    ref = renderable(targets)  # a reference scene: its renders are the targets

    def render_ref(k: int) -> torch.Tensor:
        with torch.no_grad():
            return render_view(ref, cameras[k], background=background, backend=backend).image.clamp(0, 1)
    return render_ref


def score_dataset(scene, ds, indices: Sequence[int] | None = None, **kw) -> Scores:
    """score_views at the dataset's views `indices` (default: its test views) against their
    ground truth, on the dataset's background; kw as score_views, except that a set
    keep_images names dataset indices (and Scores.images is then keyed by them)."""
    indices = list(ds.test_indices if indices is None else indices)
    keep = kw.pop("keep_images", False)
    if keep and keep is not True:
        keep = {k for k, i in enumerate(indices) if i in keep}
    s = score_views(scene, [ds.cameras[i] for i in indices], lambda k: ds.image(indices[k]),
                    background=ds.background, keep_images=keep, **kw)
    if keep and keep is not True:
        s.images = {indices[k]: img for k, img in s.images.items()}
    return s


def auto_orbit(scene, n: int, resolution: int) -> list[Camera]:
    """n cameras on an orbit that frames the bulk of the scene (robust to stray splats): the
    views to score on when there is no dataset."""
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


__all__ = ["Scores", "auto_orbit", "score_dataset", "score_views"]
