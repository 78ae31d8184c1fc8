"""Rendering: gsplat-compatible `rasterization` (CPU numba / torch reference / gsplat backends)
and the scene-level `render` used by training and evaluation."""
from gscodec.render.api import RenderResult, camera_tensors, render
from gscodec.render.rasterization import rasterization
from gscodec.render.sh import eval_sh

__all__ = ["RenderResult", "camera_tensors", "eval_sh", "rasterization", "render"]
