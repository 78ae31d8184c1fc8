"""The built-in scene: analytic geometry ray traced in numpy, written as a NeRF-synthetic folder.

Why ray tracing and not splatting: the ground truth must not be made of Gaussians, or a
Gaussian codec would be judged on a scene that is trivially representable. The scene is four
textured spheres, a rotated box and a textured ground disc, lit by one directional light
(Lambert + ambient + hard shadows + a Blinn-Phong highlight for some view dependence), on a
black background (the JSON says `"white_background": false`). Images are RGB PNGs (2x2
supersampled), so the background is baked in. Everything is deterministic given the seed
(the seed drives the ground's noise texture and the point-cloud sampling). The primitives
(Sphere, Box, shade, render_view, sample_surface_points) take the objects as arguments, so that
the dynamic scene (synthetic_dynamic.py) moves its own objects through the same code.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gscodec.data.cameras import orbit_cameras
from gscodec.data.images import save_image
from gscodec.data.plyio import write_points_ply
from gscodec.utils.io import atomic_write_text

VERSION = 1  # bump when the scene's look changes, so that caches are rebuilt
FOV_DEG = 40.0
RADIUS = 4.0
TARGET = (0.0, 0.0, 0.35)
LIGHT = np.array([0.45, -0.35, 0.82]) / np.linalg.norm([0.45, -0.35, 0.82])
GROUND_R = 1.8
class Sphere(NamedTuple):
    """A textured sphere: checker of `bands` latitude bands (x 8 in longitude) in two colours."""
    centre: tuple
    radius: float
    c1: tuple
    c2: tuple
    spec: float
    bands: float


class Box(NamedTuple):
    """A box rotated by `rot` (3x3, box -> world) with one colour per face axis and dark edges;
    `checker` > 0 adds that many darker stripes per face (so that its spin shows)."""
    centre: np.ndarray
    half: np.ndarray
    rot: np.ndarray
    colours: tuple = ((0.95, 0.55, 0.10), (0.30, 0.75, 0.75), (0.90, 0.90, 0.85))
    spec: float = 0.15
    checker: int = 0


def rot_z(angle: float) -> np.ndarray:
    return np.array([[math.cos(angle), -math.sin(angle), 0],
                     [math.sin(angle), math.cos(angle), 0], [0, 0, 1.0]])


# spheres: centre, radius, two texture colours, specular strength, bands
SPHERES = [Sphere((-0.55, -0.45, 0.45), 0.45, (0.85, 0.20, 0.15), (0.95, 0.75, 0.20), 0.45, 3),
           Sphere((0.60, -0.35, 0.30), 0.30, (0.15, 0.45, 0.90), (0.85, 0.90, 0.95), 0.6, 4),
           Sphere((0.05, 0.70, 0.55), 0.55, (0.20, 0.70, 0.30), (0.10, 0.30, 0.15), 0.25, 5),
           Sphere((0.75, 0.55, 0.18), 0.18, (0.80, 0.30, 0.80), (0.30, 0.10, 0.35), 0.8, 6)]
BOX_C, BOX_H, BOX_ROT = np.array([-0.2, 0.05, 0.25]), np.array([0.22, 0.3, 0.25]), math.radians(30)
_RZ = rot_z(BOX_ROT)
BOXES = [Box(BOX_C, BOX_H, _RZ)]
EPS = 1e-4


def hit_spheres(o, d, spheres=SPHERES):
    """Nearest sphere hit: (t, index) with t=inf for misses."""
    best_t, best_i = np.full(len(d), np.inf), np.full(len(d), -1)
    for i, (c, r, *_rest) in enumerate(spheres):
        oc = o - np.asarray(c)
        b = np.einsum("ij,ij->i", d, oc)
        disc = b * b - (np.einsum("ij,ij->i", oc, oc) - r * r)
        sq = np.sqrt(np.maximum(disc, 0))
        t = np.where(-b - sq > EPS, -b - sq, -b + sq)
        t = np.where((disc > 0) & (t > EPS), t, np.inf)
        closer = t < best_t
        best_t, best_i = np.where(closer, t, best_t), np.where(closer, i, best_i)
    return best_t, best_i


def hit_box(o, d, box: Box = BOXES[0]):
    """(t, normal in world) for one rotated box; t=inf for misses."""
    ol, dl = (o - box.centre) @ box.rot, d @ box.rot  # into box coordinates (R^T x as row vectors)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(np.abs(dl) < 1e-12, 1e-12, dl)
        t1, t2 = (-box.half - ol) * inv, (box.half - ol) * inv
    tmin_ax, tmax = np.minimum(t1, t2), np.maximum(t1, t2).min(1)
    tmin, axis = tmin_ax.max(1), tmin_ax.argmax(1)
    hit = (tmax >= tmin) & (tmin > EPS)
    n_local = np.zeros_like(d)
    n_local[np.arange(len(d)), axis] = -np.sign(dl[np.arange(len(d)), axis])
    return np.where(hit, tmin, np.inf), n_local @ box.rot.T


def hit_boxes(o, d, boxes=BOXES):
    """Nearest box hit: (t, normal, index) with t=inf for misses."""
    best_t, best_n, best_i = np.full(len(d), np.inf), np.zeros_like(d), np.full(len(d), -1)
    for i, box in enumerate(boxes):
        t, n = hit_box(o, d, box)
        closer = t < best_t
        best_t, best_i = np.where(closer, t, best_t), np.where(closer, i, best_i)
        best_n = np.where(closer[:, None], n, best_n)
    return best_t, best_n, best_i


def _hit_ground(o, d):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -o[:, 2] / d[:, 2]
    p = o + d * t[:, None]
    ok = (t > EPS) & (p[:, 0] ** 2 + p[:, 1] ** 2 < GROUND_R ** 2)
    return np.where(ok, t, np.inf)


def _noise(rng: np.random.Generator, n: int = 12):
    """Smooth value noise on the ground (bilinear over a random n x n grid)."""
    grid = rng.random((n + 1, n + 1))

    def f(x, y):
        u = np.clip((x / GROUND_R + 1) / 2 * n, 0, n - 1e-9)
        v = np.clip((y / GROUND_R + 1) / 2 * n, 0, n - 1e-9)
        i, j = u.astype(int), v.astype(int)
        a, b = u - i, v - j
        return ((1 - a) * (1 - b) * grid[i, j] + a * (1 - b) * grid[i + 1, j]
                + (1 - a) * b * grid[i, j + 1] + a * b * grid[i + 1, j + 1])
    return f


def albedo(p, n, kind, index, noise, spheres=SPHERES, boxes=BOXES):
    """Surface colour and specular strength at points `p` with normals `n`; `kind` 0/1/2 =
    sphere/box/ground, `index` the sphere's or box's position in its list."""
    alb, ks = np.zeros_like(p), np.zeros(len(p))
    for i, (c, r, c1, c2, spec, bands) in enumerate(spheres):
        m = (kind == 0) & (index == i)
        if m.any():
            q = n[m]
            lon, lat = np.arctan2(q[:, 1], q[:, 0]), np.arccos(np.clip(q[:, 2], -1, 1))
            chk = ((np.floor(lon / math.pi * 4) + np.floor(lat / math.pi * bands)) % 2)[:, None]
            alb[m] = np.where(chk > 0, c1, c2)
            ks[m] = spec
    for i, box in enumerate(boxes):
        m = (kind == 1) & (index == i)
        if m.any():  # box: colour by face, with darker edges
            ql = ((p[m] - box.centre) @ box.rot) / box.half
            face = np.abs(n[m] @ box.rot).argmax(1)
            base = np.array(box.colours)[face]
            edge = (np.sort(np.abs(ql), 1)[:, 1] > 0.85)[:, None]
            if box.checker:
                stripes = np.floor((ql + 1) * 0.5 * box.checker).sum(1) % 2
                base = base * np.where(stripes > 0, 0.6, 1.0)[:, None]
            alb[m] = np.where(edge, base * 0.35, base)
            ks[m] = box.spec
    m = kind == 2
    if m.any():  # ground: checker modulated by value noise
        x, y = p[m, 0], p[m, 1]
        chk = ((np.floor(x / 0.3) + np.floor(y / 0.3)) % 2)[:, None]
        tone = (0.55 + 0.45 * noise(x, y))[:, None]
        alb[m] = np.where(chk > 0, (0.75, 0.72, 0.65), (0.35, 0.33, 0.40)) * tone
        ks[m] = 0.05
    return alb, ks


def shade(o, d, noise, spheres=SPHERES, boxes=BOXES):
    """RGB [N,3] for rays (o,d) through these objects over the ground; black where nothing is hit."""
    ts, si = hit_spheres(o, d, spheres)
    tb, nb, bi = hit_boxes(o, d, boxes)
    tg = _hit_ground(o, d)
    t = np.minimum(np.minimum(ts, tb), tg)
    hit = np.isfinite(t)
    kind = np.where(ts <= np.minimum(tb, tg), 0, np.where(tb <= tg, 1, 2))
    p = o + d * np.where(hit, t, 0)[:, None]
    n = np.tile([0.0, 0.0, 1.0], (len(d), 1))
    centres = np.array([s[0] for s in spheres] + [(0, 0, 0)])
    radii = np.array([s[1] for s in spheres] + [1.0])
    ns = (p - centres[si]) / radii[si][:, None]
    n = np.where((kind == 0)[:, None], ns, np.where((kind == 1)[:, None], nb, n))
    alb, ks = albedo(p, n, kind, np.where(kind == 1, bi, si), noise, spheres, boxes)
    # shadows: occluded if a ray towards the light hits a sphere or a box
    po, ld = p + n * 1e-3, np.broadcast_to(LIGHT, p.shape)
    lit = ~(np.isfinite(hit_spheres(po, ld, spheres)[0]) | np.isfinite(hit_boxes(po, ld, boxes)[0]))
    ndl = np.clip(n @ LIGHT, 0, None) * lit
    h = LIGHT - d
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    spec = ks * np.clip(np.einsum("ij,ij->i", n, h), 0, None) ** 40 * lit
    rgb = alb * (0.22 + 0.8 * ndl)[:, None] + spec[:, None]
    return np.where(hit[:, None], np.clip(rgb, 0, 1), 0.0)


def pixel_rays(cam, du: float = 0.5, dv: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(origin [3], unit directions [H*W,3]) of the rays through each pixel at offset (du, dv)."""
    c2w = cam.cam_to_world.double().numpy()
    vs, us = np.meshgrid(np.arange(cam.height), np.arange(cam.width), indexing="ij")
    x = (us.ravel() + du - cam.cx) / cam.fx
    y = (vs.ravel() + dv - cam.cy) / cam.fy
    dirs = np.stack([x, y, np.ones_like(x)], 1) @ c2w[:3, :3].T
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return c2w[:3, 3], dirs


def render_view(cam, noise, supersample: int = 2, spheres=SPHERES, boxes=BOXES) -> np.ndarray:
    """[H,W,3] float image of a Camera (OpenCV axes), averaging ss x ss rays per pixel."""
    offs = (np.arange(supersample) + 0.5) / supersample
    acc = np.zeros((cam.height * cam.width, 3))
    for dv in offs:
        for du in offs:
            origin, dirs = pixel_rays(cam, du, dv)
            for a in range(0, len(dirs), 8192):  # chunks that stay in cache: ~2x faster
                d = dirs[a:a + 8192]
                acc[a:a + 8192] += shade(np.broadcast_to(origin, d.shape), d, noise, spheres, boxes)
    return (acc / supersample ** 2).reshape(cam.height, cam.width, 3)


def sample_surface_points(rng: np.random.Generator, noise, n: int = 4000, jitter: float = 0.01,
                          spheres=SPHERES, boxes=BOXES, ground: bool = True):
    """SfM-like cloud: points on the visible surfaces, with positional noise and shaded colour
    (Lambert without shadows). `n` is shared among the objects by area (the ground's halved)."""
    areas = [4 * math.pi * r * r for _, r, *_ in spheres] + [
        8 * (b.half[0] * b.half[1] + b.half[1] * b.half[2] + b.half[0] * b.half[2]) for b in boxes]
    areas += [math.pi * GROUND_R ** 2 * 0.5] if ground else []
    counts = rng.multinomial(n, np.array(areas) / sum(areas))
    pts, nrm, kind, sid = [], [], [], []
    for i, (c, r, *_r) in enumerate(spheres):
        v = rng.normal(size=(counts[i], 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        pts.append(np.asarray(c) + r * v), nrm.append(v)
        kind.append(np.zeros(counts[i], int)), sid.append(np.full(counts[i], i))
    for j, box in enumerate(boxes):  # pick a face, then a point on it
        k = counts[len(spheres) + j]
        face, sign = rng.integers(0, 3, k), rng.choice([-1.0, 1.0], k)
        q = rng.uniform(-1, 1, (k, 3))
        q[np.arange(k), face] = sign
        nl = np.zeros((k, 3))
        nl[np.arange(k), face] = sign
        pts.append(box.centre + (q * box.half) @ box.rot.T), nrm.append(nl @ box.rot.T)
        kind.append(np.ones(k, int)), sid.append(np.full(k, j))
    if ground:  # the disc
        k = counts[-1]
        rad, ang = GROUND_R * np.sqrt(rng.random(k)), rng.uniform(0, 2 * math.pi, k)
        pts.append(np.stack([rad * np.cos(ang), rad * np.sin(ang), np.zeros(k)], 1))
        nrm.append(np.tile([0.0, 0.0, 1.0], (k, 1)))
        kind.append(np.full(k, 2)), sid.append(np.zeros(k, int))
    p, nn, kd, si = map(np.concatenate, (pts, nrm, kind, sid))
    keep = p[:, 2] > -1e-6  # drop points below the ground (never observed)
    p, nn, kd, si = p[keep], nn[keep], kd[keep], si[keep]
    alb, _ = albedo(p, nn, kd, si, noise, spheres, boxes)
    rgb = np.clip(alb * (0.22 + 0.8 * np.clip(nn @ LIGHT, 0, None))[:, None], 0, 1)
    return p + rng.normal(scale=jitter, size=p.shape), rgb


def make_synthetic_scene(out_dir: str | os.PathLike, n_views: int = 40, resolution: int = 128,
                         seed: int = 0, supersample: int = 2, n_points: int = 4000) -> Path:
    """Write the built-in scene as a NeRF-synthetic folder; every 8th view is a test view."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    noise = _noise(rng)
    cams = orbit_cameras(n_views, RADIUS, width=resolution, height=resolution, fov_deg=FOV_DEG,
                         elevation_deg=(12.0, 55.0), target=TARGET)
    flip = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenCV camera axes -> OpenGL/Blender
    splits: dict[str, list] = {"train": [], "test": []}
    for i, cam in enumerate(cams):
        split = "test" if i % 8 == 0 else "train"
        rel = f"./{split}/r_{i:03d}"
        save_image(out / f"{rel}.png", render_view(cam, noise, supersample))
        c2w = cam.cam_to_world.double().numpy() @ flip
        splits[split].append({"file_path": rel, "transform_matrix": np.round(c2w, 9).tolist()})
    for split, frames in splits.items():
        meta = {"camera_angle_x": math.radians(FOV_DEG), "white_background": False,
                "generator": f"gscodec builtin v{VERSION} seed={seed}", "frames": frames}
        atomic_write_text(out / f"transforms_{split}.json", json.dumps(meta, indent=1) + "\n")
    xyz, rgb = sample_surface_points(rng, noise, n_points)
    write_points_ply(out / "points3d.ply", xyz, rgb)
    return out


def builtin_dir(resolution: int = 128, n_views: int = 40, seed: int = 0,
                cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder of the built-in scene with these parameters, made once and reused."""
    base = Path(cache_dir or os.environ.get("GSCODEC_CACHE") or Path.home() / ".cache" / "gscodec")
    final = base / f"builtin-v{VERSION}-r{resolution}-n{n_views}-s{seed}"
    if (final / "transforms_test.json").is_file() and (final / "points3d.ply").is_file():
        return final
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=base))
    try:
        make_synthetic_scene(tmp, n_views=n_views, resolution=resolution, seed=seed)
        try:
            os.replace(tmp, final)  # atomic; fails if another process won the race
        except OSError:
            if not (final / "points3d.ply").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_builtin(resolution: int = 128, n_views: int = 40, seed: int = 0,
                 cache_dir: str | os.PathLike | None = None, downscale: int = 1):
    """The built-in scene as a Dataset (black background), generated on first use."""
    from gscodec.data.nerf_synthetic import load_nerf_synthetic

    root = builtin_dir(resolution, n_views, seed, cache_dir)
    ds = load_nerf_synthetic(root, downscale=downscale, white_background=False)
    ds.name = f"builtin-{resolution}"
    return ds
