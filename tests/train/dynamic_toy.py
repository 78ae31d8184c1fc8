"""A tiny dynamic dataset rendered from known Spacetime Gaussians (in memory, no files), for
fast tests of the dynamic model, trainer and codec."""
from __future__ import annotations

import math

import numpy as np
import torch

from gscodec.data.cameras import orbit_cameras
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.scene.spacetime import SpacetimeScene, init_decoder


def toy_scene(n: int = 120, frames: int = 4, fps: float = 10.0, seed: int = 0) -> SpacetimeScene:
    g = torch.Generator().manual_seed(seed)
    motion = torch.zeros(n, 3, 3)
    motion[: n // 3, 0] = torch.tensor([0.6, 0.0, 0.0])  # a third of the splats move along x
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1
    return SpacetimeScene(
        means=torch.rand(n, 3, generator=g) - 0.5, motion=motion, quats=quats, omega=torch.zeros(n, 4),
        log_scales=torch.full((n, 3), math.log(0.08)), opacity_logits=torch.full((n,), 2.0),
        t_center=torch.full((n,), 0.5), t_log_scale=torch.full((n,), 1.0),
        features=torch.cat([torch.rand(n, 3, generator=g), torch.zeros(n, 6)], 1), decoder=init_decoder(),
        time_range=(0.0, (frames - 1) / fps), frame_range=(0, frames))


def toy_dataset(frames: int = 4, views: int = 5, size: int = 24, fps: float = 10.0) -> Dataset:
    """`views` cameras on a ring (view 0 is the test view) x `frames` frames of toy_scene()."""
    from gscodec.scene.renderable import render_view

    gt = toy_scene(frames=frames, fps=fps)
    rig = orbit_cameras(views, 3.0, width=size, height=size, fov_deg=45.0)
    cams, cache, train, test = [], {}, [], []
    for f in range(frames):
        for v, c in enumerate(rig):
            cam = type(c)(**{**c.__dict__, "name": f"cam{v:02d}_{f:04d}", "frame": f, "time": f / fps})
            with torch.no_grad():
                cache[len(cams)] = render_view(gt, cam).image.clamp(0, 1)
            (test if v == 0 else train).append(len(cams))
            cams.append(cam)
    rng = np.random.default_rng(0)
    pts = (gt.means + 0.02 * torch.randn(len(gt), 3)).numpy()
    ds = Dataset(cameras=cams, points=PointCloud(pts.astype(np.float32), rng.random((len(gt), 3)).astype(np.float32),
                                                 rng.uniform(0, (frames - 1) / fps, len(gt)).astype(np.float32)),
                 name="toy-dynamic", fps=fps, n_frames=frames, _explicit_split=(train, test))
    ds._cache.update(cache)
    return ds.check()
