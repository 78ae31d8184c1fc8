"""Neural 3D Video (DyNeRF) folders: poses_bounds.npy + cam00.mp4, cam01.mp4, ... (one video per
camera, all cameras synchronised).

poses_bounds.npy is LLFF's [n_cams, 17]: a 3x5 matrix per camera, then the near/far depth
bounds. The 3x5 is [R | t | hwf]: a camera-to-world 3x4 whose rotation columns are the camera's
down, right and backward axes in world coordinates ("DRB", LLFF's order), and hwf = [height,
width, focal in pixels] of the images it was computed for. OpenCV's axes (right, down, forward)
are therefore the columns [1, 0, -2]; we invert that to world-to-camera. The principal point is
the image centre (LLFF's assumption); the focal is scaled when the videos are not hwf's size.

Views: one Camera per (view, frame), frame-major (all views of frame 0, then frame 1, ...),
named `camXX_NNNN`, with time = frame / fps in seconds (fps from the first video, 30 when the
stream does not say). `cam00` is the test view for all its frames (the DyNeRF protocol); the
others train. Videos of different lengths: the shortest one's count is used, with a warning.
Frames are decoded once into PNGs: <root>/frames/camXX/NNNN.png (frames_<d>/ for downscale d)
when the folder is writable, else under $GSCODEC_CACHE (or ~/.cache/gscodec)/n3dv/.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from gscodec.data.cameras import Camera
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.data.plyio import read_point_cloud
from gscodec.data.video import cache_frames, is_cached, video_info
from gscodec.errors import InputError

TEST_VIEWS = ("cam00",)


def cache_base(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where generated data lives when it cannot live beside its source."""
    return Path(cache_dir or os.environ.get("GSCODEC_CACHE") or Path.home() / ".cache" / "gscodec")


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.stem)]


def find_videos(root: Path) -> list[Path]:
    """cam*.mp4 in the folder, in numeric order (cam2 before cam10)."""
    return sorted((p for p in root.glob("cam*.mp4") if p.is_file()), key=_natural)


def is_n3dv(root: Path) -> bool:
    return (root / "poses_bounds.npy").is_file() and bool(find_videos(root))


def read_poses_bounds(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(OpenCV camera-to-world [N,4,4] float64, hwf [N,3], bounds [N,2]) from poses_bounds.npy."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    if arr.ndim != 2 or arr.shape[1] != 17 or len(arr) == 0:
        raise InputError(f"{path}: expected an [n_cams, 17] array (LLFF poses_bounds), got {list(arr.shape)}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: NaN/Inf values")
    m = arr[:, :15].reshape(-1, 3, 5)
    c2w = np.tile(np.eye(4), (len(arr), 1, 1))
    c2w[:, :3, 0], c2w[:, :3, 1], c2w[:, :3, 2] = m[:, :, 1], m[:, :, 0], -m[:, :, 2]  # DRB -> RDF
    c2w[:, :3, 3] = m[:, :, 3]
    hwf, bounds = m[:, :, 4], arr[:, 15:17]
    if (hwf <= 0).any():
        raise InputError(f"{path}: height, width and focal must be > 0")
    if np.abs(np.linalg.det(c2w[:, :3, :3]) - 1).max() > 1e-3:
        raise InputError(f"{path}: a camera rotation is not orthonormal (is this an LLFF poses_bounds file?)")
    return c2w, hwf, bounds


def llff_row(c2w_opencv: np.ndarray, hwf, bounds) -> np.ndarray:
    """One poses_bounds.npy row [17] from an OpenCV camera-to-world matrix (the inverse of
    read_poses_bounds), for writers of this layout."""
    c = np.asarray(c2w_opencv, dtype=np.float64)
    m = np.stack([c[:3, 1], c[:3, 0], -c[:3, 2], c[:3, 3], np.asarray(hwf, dtype=np.float64)], 1)
    return np.concatenate([m.reshape(-1), np.asarray(bounds, dtype=np.float64)])


def _frames_root(root: Path, downscale: int, cache_dir) -> Path:
    name = "frames" if downscale == 1 else f"frames_{downscale}"
    if cache_dir is None and os.access(root, os.W_OK):
        return root / name
    tag = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return cache_base(cache_dir) / "n3dv" / f"{root.name}-{tag}" / name


def random_points(c2w, K, size, bounds, n: int, t_end: float, seed: int = 0) -> PointCloud:
    """Seeded points spread through the cameras' frusta between their near/far bounds, with
    random colours and times in [0, t_end]."""
    rng = np.random.default_rng(seed)
    cam = rng.integers(0, len(c2w), n)
    w, h = size
    uv = rng.random((n, 2)) * (w, h)
    rays = np.stack([(uv[:, 0] - K[0, 2]) / K[0, 0], (uv[:, 1] - K[1, 2]) / K[1, 1], np.ones(n)], 1)
    near, far = np.maximum(bounds[cam, 0], 1e-3), np.maximum(bounds[cam, 1], bounds[cam, 0] + 1e-3)
    depth = near + rng.random(n) * (far - near)
    xyz = np.einsum("nij,nj->ni", c2w[cam, :3, :3], rays * depth[:, None]) + c2w[cam, :3, 3]
    return PointCloud(xyz.astype(np.float32), rng.random((n, 3)).astype(np.float32),
                      rng.uniform(0, t_end, n).astype(np.float32))


def _points(root: Path, c2w, K, size, bounds, n_frames: int, fps: float, n_points: int, seed: int):
    t_end = (n_frames - 1) / fps
    if (root / "points3d.ply").is_file():
        pc = read_point_cloud(root / "points3d.ply")
        if pc.time is not None:  # drop points seen after the last frame kept (max_frames)
            keep = pc.time <= t_end + 0.5 / fps
            if keep.any() and not keep.all():
                pc = PointCloud(pc.xyz[keep], pc.rgb[keep], pc.time[keep])
        return pc
    warnings.warn(f"{root.name}: no points3d.ply; starting from {n_points} random points between the "
                  "cameras' near/far bounds (Spacetime Gaussians expect per-frame SfM points, with time)")
    return random_points(c2w, K, size, bounds, n_points, t_end, seed)


def load_n3dv(root: str | os.PathLike, downscale: int = 1, max_frames: int | None = None,
              test_views=TEST_VIEWS, cache_dir: str | os.PathLike | None = None,
              n_points: int = 100_000, seed: int = 0, progress: bool = True) -> Dataset:
    """Dataset from a Neural 3D Video folder (see the module notes). `max_frames` keeps the
    first frames only; `cache_dir` forces the frame cache there; `progress` shows the first
    extraction of the frames."""
    root = Path(root)
    if downscale < 1:
        raise InputError(f"downscale must be >= 1, got {downscale}")
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be >= 1, got {max_frames}")
    if not (root / "poses_bounds.npy").is_file():
        raise InputError(f"{root}: no poses_bounds.npy (not a Neural 3D Video folder)")
    c2w, hwf, bounds = read_poses_bounds(root / "poses_bounds.npy")
    videos = find_videos(root)
    if len(videos) != len(c2w):
        raise InputError(f"{root}: poses_bounds.npy has {len(c2w)} cameras but there are {len(videos)} "
                         f"cam*.mp4 videos ({', '.join(v.name for v in videos[:6]) or 'none'})")
    infos = [video_info(v) for v in videos]
    fps = infos[0].fps
    counts = [i.n_frames for i in infos]
    n_frames = min(counts)
    if max(counts) != n_frames:
        short = videos[counts.index(n_frames)].name
        warnings.warn(f"{root.name}: the videos differ in length ({n_frames}..{max(counts)} frames); "
                      f"using the first {n_frames} of each ({short} is the shortest)")
    if max_frames is not None:
        n_frames = min(n_frames, max_frames)
    frames_root = _frames_root(root, downscale, cache_dir)
    rigs = []
    for k, (video, info) in enumerate(zip(videos, infos)):
        H0, W0, f0 = hwf[k]
        cam = Camera(info.width, info.height, f0 * info.width / W0, f0 * info.height / H0,
                     info.width / 2.0, info.height / 2.0,
                     torch.from_numpy(np.linalg.inv(c2w[k])).float(), name=video.stem)
        rigs.append(cam.scaled(downscale) if downscale != 1 else cam)
    sizes = [(c.width, c.height) if downscale != 1 else None for c in rigs]
    todo = sum(not is_cached(v, frames_root / v.stem, s, n_frames) for v, s in zip(videos, sizes))
    from tqdm import tqdm

    paths = [cache_frames(v, frames_root / v.stem, size=s, max_frames=n_frames)
             for v, s in tqdm(list(zip(videos, sizes)), desc=f"extracting frames to {frames_root}", unit="video",
                              disable=not (progress and todo), leave=False)]
    if min(len(p) for p in paths) < n_frames:  # a header promised more frames than decoded
        n_frames = min(len(p) for p in paths)
        warnings.warn(f"{root.name}: some videos decode to fewer frames than their headers say; using {n_frames}")
    test_names = set(test_views) & {c.name for c in rigs} or {rigs[0].name}
    cameras, train, test = [], [], []
    for f in range(n_frames):
        for cam, p in zip(rigs, paths):
            (test if cam.name in test_names else train).append(len(cameras))
            cameras.append(replace(cam, name=f"{cam.name}_{f:04d}", image_path=str(p[f]), frame=f, time=f / fps))
    r0 = rigs[0]
    points = _points(root, c2w, r0.K.double().numpy(), (r0.width, r0.height), bounds, n_frames, fps,
                     n_points, seed)
    ds = Dataset(cameras=cameras, points=points, background=(0.0, 0.0, 0.0), root=root, name=root.name,
                 fps=fps, n_frames=n_frames, _explicit_split=(train, test))
    return ds.check()
