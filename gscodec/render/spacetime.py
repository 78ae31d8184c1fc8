"""Rendering Spacetime Gaussians: slice at the camera's time, splat the 9-float features with
the ordinary rasterizer (any channel count, CPU or gsplat), then decode each pixel's
features to RGB with the scene's MLP, given the pixel's view direction and the time (STG's
feature splatting). The background is composited after decoding, so empty pixels keep it.
"""
from __future__ import annotations

import torch

from gscodec.data.cameras import Camera
from gscodec.errors import InputError
from gscodec.render.api import RenderResult, camera_tensors
from gscodec.render.rasterization import rasterization


def pixel_directions(camera: Camera, device=None, dtype=torch.float32) -> torch.Tensor:
    """Unit world-space ray directions [H, W, 3] through the pixel centres of `camera`."""
    v, u = torch.meshgrid(torch.arange(camera.height, dtype=torch.float64) + 0.5,
                          torch.arange(camera.width, dtype=torch.float64) + 0.5, indexing="ij")
    d = torch.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, torch.ones_like(u)], -1)
    rot = camera.cam_to_world[:3, :3].double()
    d = torch.nn.functional.normalize(d @ rot.T, dim=-1)
    return d.to(device=device, dtype=dtype)


def render_features(params: dict[str, torch.Tensor], decoder: dict[str, torch.Tensor], cameras: list[Camera],
                    tau: float, *, background=(0.0, 0.0, 0.0), backend: str = "auto", slicer=None,
                    render_mode: str = "RGB") -> RenderResult:
    """Render stored-form attributes `params` (a SpacetimeScene's or a model's, differentiable)
    at local time tau into cameras that share one size -> image [C,H,W,3], alpha [C,H,W,1]
    (depth [C,H,W,1] too with render_mode "RGB+ED"). `slicer(params, tau)` gives the plain
    Gaussians (default: STG's polynomial motion, gscodec.scene.spacetime.slice_at)."""
    from gscodec.scene.spacetime import decode_colour, slice_at

    if render_mode not in ("RGB", "RGB+ED", "RGB+D"):
        raise InputError(f"spacetime render_mode must be RGB, RGB+D or RGB+ED, got {render_mode!r}")
    s = (slicer or slice_at)(params, tau)
    feats = params["features"]
    dev, dt = feats.device, feats.dtype
    viewmats, Ks = camera_tensors(cameras, dev, dt)
    n_ch = feats.shape[1]
    bg = torch.zeros(len(cameras), n_ch, dtype=dt, device=dev)
    rc, alpha, meta = rasterization(s["means"], s["quats"], s["scales"], s["opacities"], feats, viewmats, Ks,
                                    cameras[0].width, cameras[0].height, sh_degree=None, backgrounds=bg,
                                    render_mode=render_mode, backend=backend, packed=False)
    dirs = torch.stack([pixel_directions(c, dev, dt) for c in cameras])
    rgb = decode_colour(rc[..., :n_ch], dirs, tau, decoder)
    bgc = torch.as_tensor(background, dtype=dt, device=dev)
    # the decoder's bias must not light empty pixels: its output beyond the base colour is weighted by alpha
    rgb = rc[..., :3] + alpha * (rgb - rc[..., :3]) + (1 - alpha) * bgc
    depth = rc[..., n_ch:n_ch + 1] if rc.shape[-1] > n_ch else None
    return RenderResult(image=rgb, alpha=alpha, depth=depth, meta=meta)


def render_spacetime(scene, camera: Camera | list[Camera], *, background=(0.0, 0.0, 0.0), backend: str = "auto",
                     render_mode: str = "RGB", **kw) -> RenderResult:
    """render() for a SpacetimeScene at its cameras' time (cameras rendered together must
    show the same moment)."""
    if kw:
        raise InputError(f"unknown spacetime render option(s): {sorted(kw)}")
    single = isinstance(camera, Camera)
    cams = [camera] if single else list(camera)
    if not cams:
        raise InputError("render needs at least one camera")
    if len({c.time for c in cams}) != 1:
        raise InputError("cameras rendered together must show one moment (equal camera.time)")
    res = render_features(scene.attributes(), scene.decoder, cams, scene.tau(cams[0].time),
                          background=background, backend=backend, render_mode=render_mode)
    if single:
        res = RenderResult(image=res.image[0], alpha=res.alpha[0],
                           depth=None if res.depth is None else res.depth[0], meta=res.meta)
    return res


__all__ = ["pixel_directions", "render_features", "render_spacetime"]
