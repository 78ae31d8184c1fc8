"""Dataset cameras <-> viser's camera (both OpenCV axes: x right, y down, z forward)."""
from __future__ import annotations

import math

import numpy as np
import torch

from gscodec.data.cameras import Camera


def rotmat_to_wxyz(r: np.ndarray) -> np.ndarray:
    """Rotation matrix [3,3] -> unit quaternion (w,x,y,z)."""
    m = np.asarray(r, np.float64)
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.asarray(q)
    return q / np.linalg.norm(q)


def wxyz_to_rotmat(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def camera_pose(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    """(R_world_camera [3,3], position [3]) of a dataset camera."""
    c2w = np.linalg.inv(cam.world_to_cam.double().cpu().numpy())
    return c2w[:3, :3], c2w[:3, 3]


def vertical_fov(cam: Camera) -> float:
    return 2.0 * math.atan(0.5 * cam.height / cam.fy)


def camera_from_view(wxyz, position, fov: float, width: int, height: int) -> Camera:
    """A render Camera for viser's current view (vertical `fov` in radians)."""
    r = wxyz_to_rotmat(wxyz)
    w2c = np.eye(4)
    w2c[:3, :3] = r.T
    w2c[:3, 3] = -r.T @ np.asarray(position, np.float64)
    fy = 0.5 * height / math.tan(0.5 * fov)
    return Camera(int(width), int(height), fy, fy, width / 2.0, height / 2.0,
                  torch.from_numpy(w2c).float())


def matching_camera(cameras: list[Camera], wxyz, position, scale: float,
                    pos_tol: float = 2e-3, angle_tol_deg: float = 0.5) -> int | None:
    """Index of the dataset camera the view sits at (position within pos_tol * scale, viewing
    direction within angle_tol_deg), or None."""
    fwd = wxyz_to_rotmat(wxyz)[:, 2]
    pos = np.asarray(position, np.float64)
    best, best_d = None, float("inf")
    cos_tol = math.cos(math.radians(angle_tol_deg))
    for i, cam in enumerate(cameras):
        r, p = camera_pose(cam)
        d = float(np.linalg.norm(p - pos))
        if d <= pos_tol * max(scale, 1e-9) and float(r[:, 2] @ fwd) >= cos_tol and d < best_d:
            best, best_d = i, d
    return best
