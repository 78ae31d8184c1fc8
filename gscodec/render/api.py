"""Scene-level rendering used by the rest of gscodec: GaussianScene + Camera(s) -> images."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from gscodec.data.cameras import Camera
from gscodec.errors import InputError
from gscodec.render.rasterization import rasterization
from gscodec.scene.gaussian import GaussianScene


@dataclass
class RenderResult:
    """image [H,W,3] (or [C,H,W,3] for a list of cameras), alpha [...,H,W,1], depth [...,H,W,1]
    (expected depth, only when render_mode asks for it) and the rasterization meta dict."""

    image: torch.Tensor
    alpha: torch.Tensor
    depth: torch.Tensor | None = None
    meta: dict = field(default_factory=dict)


def camera_tensors(cameras: list[Camera], device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(viewmats [C,4,4], Ks [C,3,3]) for cameras that share one image size."""
    sizes = {(c.width, c.height) for c in cameras}
    if len(sizes) != 1:
        raise InputError(f"cameras rendered together must share one image size, got {sorted(sizes)}")
    viewmats = torch.stack([torch.as_tensor(c.world_to_cam) for c in cameras]).to(device, dtype)
    Ks = torch.stack([c.K for c in cameras]).to(device, dtype)
    return viewmats, Ks


def render(scene: GaussianScene, camera: Camera | list[Camera], *, background=(0.0, 0.0, 0.0),
           backend: str = "auto", sh_degree: int | None = None, render_mode: str = "RGB",
           colors: torch.Tensor | None = None, opacities: torch.Tensor | None = None,
           **kw) -> RenderResult:
    """Render `scene` from one camera or a list (same size).

    scales = exp(log_scales), opacities = sigmoid(opacity_logits) and colour from scene.sh
    at `sh_degree` (default: the scene's degree). `colors` ([N,3] or [C,N,3], used as-is, no
    SH) and `opacities` ([N], activated) override the scene's, for network-decoded
    attributes (e.g. Scaffold-GS anchors). Extra keywords go to `rasterization`.
    """
    if render_mode not in ("RGB", "RGB+D", "RGB+ED"):
        raise InputError(f"render() renders colour; render_mode must be RGB, RGB+D or RGB+ED, got {render_mode!r}")
    single = isinstance(camera, Camera)
    cams = [camera] if single else list(camera)
    if not cams:
        raise InputError("render() needs at least one camera")
    dev, dt = scene.means.device, scene.means.dtype
    viewmats, Ks = camera_tensors(cams, dev, dt)
    if colors is None:
        deg = scene.sh_degree if sh_degree is None else sh_degree
        if deg > scene.sh_degree:
            raise InputError(f"sh_degree {deg} exceeds the scene's degree {scene.sh_degree}")
        colors_in, deg_arg = scene.sh, deg
    else:
        colors_in, deg_arg = colors, None
    opac = scene.opacities if opacities is None else opacities
    bg = torch.as_tensor(background, dtype=dt, device=dev).reshape(1, 3).expand(len(cams), 3)
    rc, ra, meta = rasterization(scene.means, scene.quats, scene.scales, opac, colors_in,
                                 viewmats, Ks, cams[0].width, cams[0].height, sh_degree=deg_arg,
                                 backgrounds=bg.contiguous(), render_mode=render_mode,
                                 backend=backend, packed=kw.pop("packed", False), **kw)
    image, depth = rc[..., :3], (rc[..., 3:4] if rc.shape[-1] > 3 else None)
    if single:
        image, ra = image[0], ra[0]
        depth = None if depth is None else depth[0]
    return RenderResult(image=image, alpha=ra, depth=depth, meta=meta)
