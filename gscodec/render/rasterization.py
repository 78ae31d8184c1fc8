"""`rasterization`: gsplat 1.5's `gsplat.rasterization` signature and return value, with a CPU
implementation (numba tile rasterizer, or the pure-torch reference) and a gsplat adapter.

Only the pinhole camera and the options listed in `_check_options` are supported on the
CPU; anything else raises InputError naming the option instead of being silently ignored.
"""
from __future__ import annotations

import math

import torch

from gscodec.errors import InputError
from gscodec.render.project import project
from gscodec.render.sh import eval_sh

RENDER_MODES = ("RGB", "D", "ED", "RGB+D", "RGB+ED")
CPU_BACKENDS = ("cpu", "cpu_reference")


def _check_options(kw: dict, rasterize_mode: str, render_mode: str) -> None:
    if render_mode not in RENDER_MODES:
        raise InputError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
    if rasterize_mode not in ("classic", "antialiased"):
        raise InputError(f"rasterize_mode must be 'classic' or 'antialiased', got {rasterize_mode!r}")
    unsupported = {
        "camera_model": "pinhole", "distributed": False, "with_ut": False, "with_eval3d": False,
        "absgrad": False, "sparse_grad": False, "segmented": False, "covars": None,
        "radial_coeffs": None, "tangential_coeffs": None, "thin_prism_coeffs": None,
        "rolling_shutter": None, "viewmats_rs": None,
    }
    for name, ok in unsupported.items():
        if name in kw and kw[name] is not None and kw[name] != ok and not (
                name == "rolling_shutter" and str(kw[name]).endswith("GLOBAL")):
            raise InputError(f"the CPU renderer does not support {name}={kw[name]!r} "
                             f"(only {ok!r}); use backend='gsplat' on a CUDA device")
    known = set(unsupported) | {"channel_chunk", "batch_per_iter", "global_z_order",
                                "ftheta_coeffs", "lidar_coeffs"}
    extra = set(kw) - known
    if extra:
        raise InputError(f"unknown rasterization option(s): {sorted(extra)}")


def _resolve_backend(backend: str, means: torch.Tensor) -> str:
    if backend == "auto":
        if means.is_cuda:
            try:
                import gsplat  # noqa: F401
                return "gsplat"
            except ImportError:
                pass
        return "cpu"
    if backend not in ("gsplat",) + CPU_BACKENDS:
        raise InputError(f"backend must be 'auto', 'gsplat', 'cpu' or 'cpu_reference', got {backend!r}")
    return backend


def rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width: int, height: int,
                  near_plane: float = 0.01, far_plane: float = 1e10, radius_clip: float = 0.0,
                  eps2d: float = 0.3, sh_degree: int | None = None, packed: bool = True,
                  tile_size: int = 16, backgrounds=None, render_mode: str = "RGB",
                  rasterize_mode: str = "classic", backend: str = "auto", **kw):
    """Render N Gaussians into C cameras -> (colors [C,H,W,ch], alphas [C,H,W,1], meta).

    backend: "auto" (gsplat on CUDA when importable, else "cpu"), "gsplat", "cpu" (numba
    tile rasterizer) or "cpu_reference" (pure torch, slow; the test oracle).
    """
    which = _resolve_backend(backend, means)
    if which == "gsplat":
        from gscodec.render.gsplat_backend import gsplat_rasterization
        return gsplat_rasterization(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip, eps2d=eps2d,
            sh_degree=sh_degree, packed=packed, tile_size=tile_size, backgrounds=backgrounds,
            render_mode=render_mode, rasterize_mode=rasterize_mode, **kw)
    _check_options(kw, rasterize_mode, render_mode)
    if means.is_cuda:
        means, quats, scales, opacities, colors, viewmats, Ks = (
            t.cpu() for t in (means, quats, scales, opacities, colors, viewmats, Ks))
        backgrounds = None if backgrounds is None else backgrounds.cpu()
    N, C = means.shape[0], viewmats.shape[0]
    _check_shapes(means, quats, scales, opacities, colors, viewmats, Ks, sh_degree, backgrounds,
                  width, height)
    proj = project(means, quats, scales, viewmats, Ks, width, height, eps2d=eps2d,
                   near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip,
                   tile_size=tile_size)
    opac = opacities[None, :].expand(C, N)
    if rasterize_mode == "antialiased":
        opac = opac * proj.compensations
    if render_mode in ("D", "ED"):
        cols = proj.depths[..., None]                                # depth is the only channel
    else:
        cols = _colors(colors, sh_degree, means, viewmats, C, N)   # [C,N,D]
        if render_mode in ("RGB+D", "RGB+ED"):
            cols = torch.cat([cols, proj.depths[..., None]], -1)
    if backgrounds is not None and backgrounds.shape[-1] < cols.shape[-1]:
        pad = torch.zeros(C, cols.shape[-1] - backgrounds.shape[-1], dtype=backgrounds.dtype)
        backgrounds = torch.cat([backgrounds, pad], -1)
    if backgrounds is not None and backgrounds.shape[-1] != cols.shape[-1]:
        raise InputError(f"backgrounds have {backgrounds.shape[-1]} channels, render_mode "
                         f"{render_mode!r} renders {cols.shape[-1]}")

    cam_ids, g_ids = torch.nonzero(proj.visible, as_tuple=True)
    flat = cam_ids * N + g_ids

    def pick(x):  # index_select: its backward is a fast index_add_ (advanced indexing's is not)
        return x.reshape((C * N,) + x.shape[2:]).index_select(0, flat)

    m2_p, con_p = pick(proj.means2d), pick(proj.conics)
    packed_args = (m2_p, con_p, pick(cols), pick(opac), pick(proj.depths).detach(), cam_ids,
                   pick(proj.tile_bbox), C, width, height, tile_size)
    if which == "cpu":
        from gscodec.render.cpu_fast import composite_fast as composite
    else:
        from gscodec.render.cpu_reference import composite_reference as composite
    render_colors, render_alphas = composite(*packed_args, backgrounds=backgrounds)
    if render_mode in ("ED", "RGB+ED"):
        ed = render_colors[..., -1:] / torch.clamp_min(render_alphas, 1e-10)
        render_colors = torch.cat([render_colors[..., :-1], ed], -1)

    radii = proj.radii[..., None].expand(C, N, 2)
    meta = {"width": width, "height": height, "tile_size": tile_size, "n_cameras": C,
            "tile_width": math.ceil(width / tile_size), "tile_height": math.ceil(height / tile_size),
            "backend": which}
    if packed:
        meta.update(camera_ids=cam_ids, gaussian_ids=g_ids, radii=pick(radii),
                    means2d=m2_p, depths=pick(proj.depths), conics=con_p,
                    opacities=packed_args[3])
    else:
        meta.update(camera_ids=None, gaussian_ids=None, radii=radii, means2d=proj.means2d,
                    depths=proj.depths, conics=proj.conics, opacities=opac)
    return render_colors, render_alphas, meta


def _colors(colors, sh_degree, means, viewmats, C, N):
    """Per-camera colours [C,N,D]: given directly, or evaluated from SH like gsplat."""
    if sh_degree is None:
        return colors if colors.dim() == 3 else colors[None].expand(C, N, colors.shape[-1])
    campos = torch.linalg.inv(viewmats)[:, :3, 3]                   # [C,3]
    dirs = means[None, :, :] - campos[:, None, :]                    # [C,N,3]
    coeffs = colors if colors.dim() == 4 else colors[None].expand(C, *colors.shape)
    return torch.clamp_min(eval_sh(sh_degree, coeffs, dirs) + 0.5, 0.0)


def _check_shapes(means, quats, scales, opacities, colors, viewmats, Ks, sh_degree, bgs, w, h):
    N = means.shape[0]
    C = viewmats.shape[0] if viewmats.dim() == 3 else -1

    def need(ok, msg):
        if not ok:
            raise InputError(msg)

    need(means.dim() == 2 and means.shape[1] == 3, f"means must be [N,3], got {list(means.shape)}")
    need(tuple(quats.shape) == (N, 4), f"quats must be [{N},4], got {list(quats.shape)}")
    need(tuple(scales.shape) == (N, 3), f"scales must be [{N},3], got {list(scales.shape)}")
    need(tuple(opacities.shape) == (N,), f"opacities must be [{N}], got {list(opacities.shape)}")
    need(C >= 1 and tuple(viewmats.shape[1:]) == (4, 4), f"viewmats must be [C,4,4], got {list(viewmats.shape)}")
    need(tuple(Ks.shape) == (C, 3, 3), f"Ks must be [{C},3,3], got {list(Ks.shape)}")
    need(int(w) > 0 and int(h) > 0, f"width and height must be positive, got {w}x{h}")
    if sh_degree is None:
        need((colors.dim() == 2 and colors.shape[0] == N)
             or (colors.dim() == 3 and tuple(colors.shape[:2]) == (C, N)),
             f"colors must be [N,D] or [C,N,D] without sh_degree, got {list(colors.shape)}")
    else:
        need((colors.dim() == 3 and colors.shape[0] == N)
             or (colors.dim() == 4 and tuple(colors.shape[:2]) == (C, N)),
             f"SH colors must be [N,K,3] or [C,N,K,3], got {list(colors.shape)}")
    if bgs is not None:
        need(bgs.dim() == 2 and bgs.shape[0] == C, f"backgrounds must be [C,D], got {list(bgs.shape)}")
