"""Pinhole cameras in the OpenCV convention (x right, y down, z forward), as gsplat uses.

`world_to_cam` is the 4x4 view matrix gsplat calls `viewmats`; `K` its intrinsics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch


@dataclass
class Camera:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_cam: torch.Tensor  # [4,4] float32
    name: str = ""
    image_path: str | None = None
    time: float | None = None  # for dynamic scenes: the moment this view shows, in seconds (None: static)
    frame: int | None = None  # for dynamic scenes: the frame index (time = frame / fps)

    @property
    def K(self) -> torch.Tensor:
        return torch.tensor([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]],
                            dtype=torch.float32)

    @property
    def viewmat(self) -> torch.Tensor:
        return self.world_to_cam

    @property
    def cam_to_world(self) -> torch.Tensor:
        return torch.linalg.inv(self.world_to_cam.double()).float()

    @property
    def center(self) -> torch.Tensor:
        """Camera position in world space."""
        return self.cam_to_world[:3, 3]

    def scaled(self, factor: float) -> "Camera":
        """The same camera for an image down-scaled by `factor` (e.g. 2 for images_2/)."""
        w, h = int(round(self.width / factor)), int(round(self.height / factor))
        sx, sy = w / self.width, h / self.height
        return replace(self, width=w, height=h, fx=self.fx * sx, fy=self.fy * sy,
                       cx=self.cx * sx, cy=self.cy * sy)

    @classmethod
    def from_fov(cls, width: int, height: int, fov_x_rad: float, world_to_cam: torch.Tensor,
                 **kw) -> "Camera":
        fx = 0.5 * width / math.tan(0.5 * fov_x_rad)
        return cls(width, height, fx, fx, width / 2.0, height / 2.0, world_to_cam.float(), **kw)


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> torch.Tensor:
    """World-to-camera matrix (OpenCV axes) of a camera at `eye` looking at `target`."""
    eye_t, tgt, up_t = (torch.as_tensor(v, dtype=torch.float64) for v in (eye, target, up))
    z = tgt - eye_t
    z = z / z.norm()
    x = torch.linalg.cross(z, up_t)
    if x.norm() < 1e-9:  # looking along `up`: pick any perpendicular axis
        x = torch.linalg.cross(z, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    R = torch.stack([x, y, z])  # rows: camera axes in world coordinates
    w2c = torch.eye(4, dtype=torch.float64)
    w2c[:3, :3] = R
    w2c[:3, 3] = -R @ eye_t
    return w2c.float()


def orbit_cameras(n: int, radius: float, *, width: int = 128, height: int = 128, fov_deg: float = 50.0,
                  elevation_deg: float | tuple[float, float] = 25.0, target=(0.0, 0.0, 0.0),
                  up=(0.0, 0.0, 1.0)) -> list[Camera]:
    """n cameras on a circle (or a spiral between two elevations) around `target`."""
    cams = []
    lo, hi = (elevation_deg, elevation_deg) if isinstance(elevation_deg, (int, float)) else elevation_deg
    for i in range(n):
        az = 2 * math.pi * i / n
        el = math.radians(lo + (hi - lo) * (0.5 - 0.5 * math.cos(2 * math.pi * i / max(n, 1) * 2)))
        eye = (target[0] + radius * math.cos(el) * math.cos(az),
               target[1] + radius * math.cos(el) * math.sin(az),
               target[2] + radius * math.sin(el))
        cams.append(Camera.from_fov(width, height, math.radians(fov_deg), look_at(eye, target, up),
                                    name=f"orbit_{i:03d}"))
    return cams
