"""The Dataset every loader returns: cameras with their images, a split, initial points."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gscodec.data.cameras import Camera
from gscodec.errors import InputError


@dataclass
class PointCloud:
    """Initial points for training: xyz [M,3] float32, rgb [M,3] float32 in [0,1]; for a
    dynamic scene `time` [M] float32 (seconds) says at which moment each point was seen."""

    xyz: np.ndarray
    rgb: np.ndarray
    time: np.ndarray | None = None


@dataclass
class Dataset:
    """Cameras + images + initial point cloud. Images load lazily (float32 [H,W,3] in [0,1])."""

    cameras: list[Camera]
    points: PointCloud
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    test_every: int = 8  # the standard split: every 8th image to the test set
    root: Path | None = None
    name: str = ""
    # dynamic scenes: frames per second and the number of frames; every camera then carries
    # .frame and .time = frame / fps (one Camera per (view, frame)). n_frames 0: a static scene.
    fps: float | None = None
    n_frames: int = 0
    _cache: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)
    _explicit_split: tuple[list[int], list[int]] | None = None

    # ---- split -----------------------------------------------------------------------
    @property
    def test_indices(self) -> list[int]:
        if self._explicit_split is not None:
            return list(self._explicit_split[1])
        return [i for i in range(len(self.cameras)) if self.test_every and i % self.test_every == 0]

    @property
    def train_indices(self) -> list[int]:
        if self._explicit_split is not None:
            return list(self._explicit_split[0])
        test = set(self.test_indices)
        return [i for i in range(len(self.cameras)) if i not in test]

    def train_cameras(self) -> list[Camera]:
        return [self.cameras[i] for i in self.train_indices]

    def test_cameras(self) -> list[Camera]:
        return [self.cameras[i] for i in self.test_indices]

    @property
    def dynamic(self) -> bool:
        return self.n_frames > 0

    def frame_indices(self, frame: int, split: str = "train") -> list[int]:
        """Camera indices of one frame in a split ("train" or "test")."""
        ids = self.train_indices if split == "train" else self.test_indices
        return [i for i in ids if self.cameras[i].frame == frame]

    # ---- images ----------------------------------------------------------------------
    def image(self, index: int) -> torch.Tensor:
        """Ground-truth image of camera `index` as float32 [H,W,3], composited on the background."""
        if index not in self._cache:
            from gscodec.data.images import load_image

            cam = self.cameras[index]
            if cam.image_path is None:
                raise InputError(f"camera {cam.name or index} has no image")
            self._cache[index] = load_image(cam.image_path, (cam.width, cam.height),
                                            background=self.background)
        return self._cache[index]

    def scene_extent(self) -> float:
        """Radius of the camera centres around their mean (the 3DGS 'cameras_extent')."""
        centres = torch.stack([c.center for c in self.cameras])
        return float((centres - centres.mean(0)).norm(dim=1).max() * 1.1)

    def check(self) -> "Dataset":
        if not self.cameras:
            raise InputError(f"dataset {self.name or self.root}: no cameras")
        if len(self.points.xyz) != len(self.points.rgb):
            raise InputError("initial point cloud: xyz and rgb differ in length")
        if not np.isfinite(self.points.xyz).all():
            raise InputError("initial point cloud has NaN/Inf positions")
        if self.points.time is not None and len(self.points.time) != len(self.points.xyz):
            raise InputError("initial point cloud: time and xyz differ in length")
        if self.n_frames:
            if not self.fps or self.fps <= 0:
                raise InputError(f"dynamic dataset {self.name or self.root}: fps must be > 0")
            bad = [c.name for c in self.cameras if c.frame is None or not 0 <= c.frame < self.n_frames]
            if bad:
                raise InputError(f"dynamic dataset {self.name or self.root}: cameras without a frame in "
                                 f"0..{self.n_frames - 1}: {bad[:3]}")
        return self
