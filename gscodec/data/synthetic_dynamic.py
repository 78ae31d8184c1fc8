"""The built-in dynamic scene: multi-view video ray traced in numpy, written as a Neural 3D
Video folder (poses_bounds.npy + camXX.mp4 + points3d.ply with a per-point time).

Why: a dynamic codec needs a ground truth with known motion that is not made of Gaussians
(the same reason as the static scene in synthetic.py, whose primitives and shading it reuses).
Content, in sequence time s = frame / (n_frames - 1) in [0, 1] (so every length shows the
whole motion): a static textured ground disc and a static box (most pixels); a sphere on a
parabolic hop across the scene; a striped box spinning about z; and a sphere that is there
only for the middle third of the frames (frames n//3 .. n - n//3 - 1), appearing and
vanishing abruptly. A fixed rig: `n_train` cameras on a ring at alternating elevations, plus
the test camera cam00 halfway between the first two of them (a fair held-out view).
Images are rendered with 1 ray per pixel by default (supersample=1) to keep generation fast.
Deterministic given the seed (ground texture and point sampling).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from gscodec.data.cameras import Camera, look_at
from gscodec.data.images import to_uint8
from gscodec.data.n3dv import cache_base, llff_row
from gscodec.data.plyio import write_points_ply
from gscodec.data.synthetic import (LIGHT, Box, Sphere, _hit_ground, _noise, hit_boxes, hit_spheres, pixel_rays,
                                    render_view, rot_z, sample_surface_points)
from gscodec.data.video import write_video
from gscodec.errors import InputError
from gscodec.utils.io import atomic_open, atomic_write_text

VERSION = 1  # bump when the scene's look changes, so that caches are rebuilt
FOV_DEG, RADIUS, TARGET = 40.0, 4.0, (0.0, 0.0, 0.3)
STATIC_BOX = Box(np.array([-0.55, 0.55, 0.28]), np.array([0.25, 0.32, 0.28]), rot_z(math.radians(25)))
SPIN_C, SPIN_H, SPIN_OMEGA = np.array([0.6, 0.45, 0.2]), np.array([0.3, 0.14, 0.2]), 1.6  # rad per sequence
HOP = Sphere((0.0, 0.0, 0.0), 0.22, (0.85, 0.20, 0.15), (0.95, 0.75, 0.20), 0.45, 3)
BLINK = Sphere((0.15, -0.75, 0.3), 0.26, (0.15, 0.45, 0.90), (0.85, 0.90, 0.95), 0.6, 4)


def hop_centre(s: float) -> tuple:
    """The moving sphere's centre at sequence time s in [0,1]: a parabolic hop from front left
    to the right, bending in y."""
    return (-1.0 + 1.7 * s, -0.25 - 0.35 * math.sin(math.pi * s), 0.22 + 0.7 * 4 * s * (1 - s))


def blink_frames(n_frames: int) -> range:
    """Frames in which the appearing sphere is present: the middle third."""
    return range(n_frames // 3, n_frames - n_frames // 3)


def objects_at(frame: int, n_frames: int) -> tuple[list[Sphere], list[Box]]:
    """(spheres, boxes) of the scene at a frame; the ground is always there."""
    s = frame / (n_frames - 1) if n_frames > 1 else 0.0
    spheres = [HOP._replace(centre=hop_centre(s))]
    if frame in blink_frames(n_frames):
        spheres.append(BLINK)
    spin = Box(SPIN_C, SPIN_H, rot_z(math.radians(10) + SPIN_OMEGA * s), checker=4,
               colours=((0.85, 0.25, 0.55), (0.95, 0.85, 0.25), (0.35, 0.30, 0.85)))
    return spheres, [STATIC_BOX, spin]


def dynamic_mask(cam: Camera, frame: int, n_frames: int) -> np.ndarray:
    """[H,W] bool: the pixels (centre rays) that see a moving object at this frame, directly or
    as its shadow on the static ground or box. The others show the static scene only."""
    spheres, boxes = objects_at(frame, n_frames)
    origin, d = pixel_rays(cam)
    o = np.broadcast_to(origin, d.shape)
    t_box, n_box, _ = hit_boxes(o, d, boxes[:1])
    t_ground = _hit_ground(o, d)
    t_static = np.minimum(t_box, t_ground)
    t_moving = np.minimum(hit_spheres(o, d, spheres)[0], hit_boxes(o, d, boxes[1:])[0])
    seen = np.isfinite(t_moving) & (t_moving < t_static)
    n = np.where((t_box <= t_ground)[:, None], n_box, np.array([0.0, 0.0, 1.0]))
    p = o + d * np.where(np.isfinite(t_static), t_static, 0)[:, None] + n * 1e-3
    ld = np.broadcast_to(LIGHT, p.shape)
    shadow = np.isfinite(t_static) & (np.isfinite(hit_spheres(p, ld, spheres)[0])
                                      | np.isfinite(hit_boxes(p, ld, boxes[1:])[0]))
    return (seen | shadow).reshape(cam.height, cam.width)


def rig(n_train: int = 16, resolution: int = 96) -> list[Camera]:
    """cam00 (test) then cam01..cam{n_train} (train), on a ring around the scene."""
    cams = []
    for k in range(n_train + 1):
        if k == 0:  # halfway (in azimuth and elevation) between training cameras 1 and 2
            az, el = math.pi / n_train, 26.0
        else:
            az, el = 2 * math.pi * (k - 1) / n_train, (18.0 if k % 2 else 34.0)
        el = math.radians(el)
        eye = (TARGET[0] + RADIUS * math.cos(el) * math.cos(az), TARGET[1] + RADIUS * math.cos(el) * math.sin(az),
               TARGET[2] + RADIUS * math.sin(el))
        cams.append(Camera.from_fov(resolution, resolution, math.radians(FOV_DEG), look_at(eye, TARGET),
                                    name=f"cam{k:02d}"))
    return cams


def sample_points(rng: np.random.Generator, noise, n_frames: int, fps: float, every: int = 5,
                  n_static: int = 3000, n_moving: int = 400):
    """SfM-like points with a time each (seconds): the moving objects sampled at every
    `every`-th frame in their pose there; the static ground and box once, each point given
    one of those frames' times at random (per-frame SfM would see them in every frame)."""
    frames = list(range(0, n_frames, every))
    xyz, rgb, time = [], [], []
    p, c = sample_surface_points(rng, noise, n_static, spheres=[], boxes=[STATIC_BOX])
    xyz.append(p), rgb.append(c), time.append(rng.choice(frames, len(p)) / fps)
    for f in frames:
        spheres, boxes = objects_at(f, n_frames)
        p, c = sample_surface_points(rng, noise, n_moving, spheres=spheres, boxes=boxes[1:], ground=False)
        xyz.append(p), rgb.append(c), time.append(np.full(len(p), f / fps))
    return np.concatenate(xyz), np.concatenate(rgb), np.concatenate(time)


def make_dynamic_scene(out_dir: str | os.PathLike, resolution: int = 96, n_frames: int = 30, n_train: int = 16,
                       seed: int = 0, fps: float = 30.0, supersample: int = 1) -> Path:
    """Write the built-in dynamic scene as a Neural 3D Video folder; returns it."""
    if resolution < 8 or n_frames < 1 or n_train < 1 or supersample < 1 or not fps > 0:
        raise InputError(f"dynamic scene: need resolution >= 8, frames >= 1, cameras >= 1, fps > 0 (got "
                         f"{resolution}, {n_frames}, {n_train}, {fps})")
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    noise = _noise(rng)
    cams = rig(n_train, resolution)
    scenes = [objects_at(f, n_frames) for f in range(n_frames)]
    rows = []
    for cam in cams:
        frames = (to_uint8(render_view(cam, noise, supersample, *scenes[f])) for f in range(n_frames))
        write_video(out / f"{cam.name}.mp4", frames, fps)
        c2w = cam.cam_to_world.double().numpy()
        dist = float(np.linalg.norm(c2w[:3, 3] - np.asarray(TARGET)))
        rows.append(llff_row(c2w, (cam.height, cam.width, cam.fx), (max(dist - 2.6, 0.1), dist + 2.6)))
    with atomic_open(out / "poses_bounds.npy", "wb") as f:
        np.save(f, np.stack(rows))
    xyz, rgb, t = sample_points(rng, noise, n_frames, fps)
    write_points_ply(out / "points3d.ply", xyz, rgb, t)
    meta = {"generator": f"gscodec builtin-dynamic v{VERSION}", "seed": seed, "resolution": resolution,
            "frames": n_frames, "fps": fps, "train_cameras": n_train, "test_cameras": ["cam00"],
            "supersample": supersample, "blink_frames": [blink_frames(n_frames).start, blink_frames(n_frames).stop]}
    atomic_write_text(out / "scene.json", json.dumps(meta, indent=1) + "\n")
    return out


def builtin_dynamic_dir(resolution: int = 96, n_frames: int = 30, n_train: int = 16, seed: int = 0,
                        cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder of the built-in dynamic scene with these parameters, made once and reused (made
    in a temporary folder renamed into place, so a folder that exists is whole)."""
    base = cache_base(cache_dir)
    final = base / f"builtin-dynamic-v{VERSION}-r{resolution}-f{n_frames}-n{n_train}-s{seed}"
    if (final / "scene.json").is_file():
        return final
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=base))
    except OSError as e:
        raise InputError(f"cannot write the scene cache {base}: {e.strerror or e}") from None
    try:
        make_dynamic_scene(tmp, resolution=resolution, n_frames=n_frames, n_train=n_train, seed=seed)
        try:
            os.replace(tmp, final)  # atomic; fails if another process won the race
        except OSError:
            if not (final / "scene.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_builtin_dynamic(resolution: int = 96, n_frames: int = 30, n_train: int = 16, seed: int = 0,
                         cache_dir: str | os.PathLike | None = None, downscale: int = 1,
                         max_frames: int | None = None):
    """The built-in dynamic scene as a Dataset (black background), generated on first use."""
    from gscodec.data.n3dv import load_n3dv

    root = builtin_dynamic_dir(resolution, n_frames, n_train, seed, cache_dir)
    ds = load_n3dv(root, downscale=downscale, max_frames=max_frames)
    ds.name = f"builtin-dynamic-{resolution}"
    return ds
