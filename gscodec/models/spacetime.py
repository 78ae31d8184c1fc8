"""Trainable dynamic representations for one group of frames (GOF).

* `SpacetimeModel` ("poly"): STG as Dynamic GSCodec uses it (gscodec.scene.spacetime):
  cubic polynomial motion, linear angular velocity, Gaussian-in-time opacity, features
  decoded by a per-pixel MLP. Exports a SpacetimeScene the codec codes.
* `MotionBasisModel` ("basis"): the alternative of GSCodec Studio's Table VIII (DynMF /
  Shape-of-Motion style): B motion bases shared by all splats (piecewise linear curves over
  the GOF's time, learned), per-splat coefficients [B, 3] for the centre, a constant rotation
  and a time-invariant opacity. Same features and decoder, so the comparison isolates the
  motion and opacity model. It is rendered and counted, not coded.

Both expose what the densification strategies touch (means, quats, log_scales,
opacity_logits, params() of per-splat tensors) and `slicer(params, tau)` for rendering.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from gscodec.data.dataset import PointCloud
from gscodec.errors import InputError
from gscodec.scene.spacetime import (
    ATTRIBUTES,
    FEATURE_DIM,
    POLY_DEGREE,
    SpacetimeScene,
    init_decoder,
    local_time,
    slice_at,
)


def _init_splats(points: PointCloud, time_range: tuple[float, float], *, init_opacity: float, seed: int,
                 max_points: int | None) -> dict[str, torch.Tensor]:
    """Shared initialisation: the GOF's points (time-tagged ones inside its time range, with a
    margin of one eighth of it), isotropic scales from 3 nearest neighbours, base colour
    from the point's RGB, local time from the point's tag (random where untagged)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    xyz, rgb = np.asarray(points.xyz, np.float32), np.asarray(points.rgb, np.float32)
    t0, t1 = time_range
    if points.time is not None:
        tt = np.asarray(points.time, np.float64)
        margin = (t1 - t0) / 8
        inside = (tt >= t0 - margin) & (tt <= t1 + margin)
        xyz, rgb = xyz[inside], rgb[inside]
        tau = np.array([local_time(v, time_range) for v in tt[inside]], np.float32)
    else:
        tau = rng.random(len(xyz)).astype(np.float32)
    if len(xyz) == 0:
        raise InputError(f"no initial points fall in the GOF's time range {time_range}")
    if max_points is not None and len(xyz) > max_points:
        keep = rng.choice(len(xyz), max_points, replace=False)
        xyz, rgb, tau = xyz[keep], rgb[keep], tau[keep]
    n = len(xyz)
    dist = np.sqrt((cKDTree(xyz).query(xyz, k=4)[0][:, 1:] ** 2).mean(1)) if n >= 4 else np.full(n, 0.01)
    feats = np.zeros((n, FEATURE_DIM), np.float32)
    feats[:, :3] = rgb
    quats = np.zeros((n, 4), np.float32)
    quats[:, 0] = 1
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
    return {"means": t(xyz), "quats": t(quats), "log_scales": t(np.log(np.clip(dist, 1e-7, None)))[:, None].repeat(1, 3),
            "opacity_logits": torch.full((n,), math.log(init_opacity / (1 - init_opacity))),
            "features": t(feats), "tau": t(tau)}


class _GofModel(nn.Module):
    """What both models share: per-splat parameters by name, the decoder MLP, the GOF's range."""

    SPLAT_PARAMS: tuple[str, ...] = ()

    def __init__(self, tensors: dict[str, torch.Tensor], decoder: dict[str, torch.Tensor],
                 time_range: tuple[float, float], frame_range: tuple[int, int]):
        super().__init__()
        for name in self.SPLAT_PARAMS:
            setattr(self, name, nn.Parameter(tensors[name].detach().clone().float()))
        self.decoder = nn.ParameterDict({k: nn.Parameter(v.detach().clone().float()) for k, v in decoder.items()})
        self.time_range, self.frame_range = tuple(time_range), tuple(frame_range)

    def __len__(self) -> int:
        return int(self.means.shape[0])

    def params(self) -> dict[str, nn.Parameter]:
        return {name: getattr(self, name) for name in self.SPLAT_PARAMS}

    def decoder_weights(self) -> dict[str, torch.Tensor]:
        return dict(self.decoder.items())

    def tau(self, t: float | None) -> float:
        return local_time(self.time_range[0] if t is None else t, self.time_range)

    def parameter_count(self) -> int:
        """Every learned float: per-splat tensors, the decoder and any shared tables (Table VIII's #Params)."""
        return sum(p.numel() for p in self.parameters())


class SpacetimeModel(_GofModel):
    SPLAT_PARAMS = tuple(ATTRIBUTES)
    slicer = staticmethod(slice_at)

    @classmethod
    def from_points(cls, points: PointCloud, time_range, frame_range, *, init_opacity: float = 0.1,
                    init_time_scale: float = 0.2, seed: int = 0, max_points: int | None = None) -> "SpacetimeModel":
        """init_time_scale: each splat's temporal scale, in GOF lengths (STG starts splats
        present over a neighbourhood of the moment they were seen)."""
        s = _init_splats(points, time_range, init_opacity=init_opacity, seed=seed, max_points=max_points)
        n = len(s["means"])
        tensors = {**s, "motion": torch.zeros(n, POLY_DEGREE, 3), "omega": torch.zeros(n, 4),
                   "t_center": s["tau"], "t_log_scale": torch.full((n,), math.log(init_time_scale))}
        return cls(tensors, init_decoder(seed), time_range, frame_range)

    @classmethod
    def from_scene(cls, scene: SpacetimeScene) -> "SpacetimeModel":
        return cls(scene.attributes(), scene.decoder, scene.time_range, scene.frame_range)

    def scene(self) -> SpacetimeScene:
        return SpacetimeScene(**self.params(), decoder=self.decoder_weights(), time_range=self.time_range,
                              frame_range=self.frame_range)

    def export(self) -> SpacetimeScene:
        return self.scene().detach().to("cpu")


class MotionBasisModel(_GofModel):
    SPLAT_PARAMS = ("means", "coeffs", "quats", "log_scales", "opacity_logits", "features")

    def __init__(self, tensors, decoder, time_range, frame_range, n_bases: int = 10, knots: int = 16):
        super().__init__(tensors, decoder, time_range, frame_range)
        g = torch.Generator().manual_seed(1)
        # bases start as small random curves through 0 at tau = 0.5, so no splat moves at first
        # and every basis gets a distinct gradient
        basis = torch.randn(n_bases, knots, generator=g) * 0.1
        self.basis = nn.Parameter(basis - basis[:, knots // 2:knots // 2 + 1])

    @classmethod
    def from_points(cls, points: PointCloud, time_range, frame_range, *, init_opacity: float = 0.1,
                    n_bases: int = 10, seed: int = 0, max_points: int | None = None) -> "MotionBasisModel":
        s = _init_splats(points, time_range, init_opacity=init_opacity, seed=seed, max_points=max_points)
        s["coeffs"] = torch.zeros(len(s["means"]), n_bases, 3)
        return cls(s, init_decoder(seed), time_range, frame_range, n_bases=n_bases)

    def basis_at(self, tau: float) -> torch.Tensor:
        """[B] values of the bases at tau (linear interpolation between knots)."""
        k = self.basis.shape[1] - 1
        x = min(max(tau, 0.0), 1.0) * k
        i = min(int(x), k - 1)
        w = x - i
        return self.basis[:, i] * (1 - w) + self.basis[:, i + 1] * w

    def slicer(self, p: dict[str, torch.Tensor], tau: float) -> dict[str, torch.Tensor]:
        offset = torch.einsum("nbc,b->nc", p["coeffs"], self.basis_at(tau))
        return {"means": p["means"] + offset, "quats": p["quats"], "scales": p["log_scales"].exp(),
                "opacities": torch.sigmoid(p["opacity_logits"])}


def make_model(kind: str, points: PointCloud, time_range, frame_range, **kw) -> _GofModel:
    if kind == "poly":
        return SpacetimeModel.from_points(points, time_range, frame_range, **kw)
    if kind == "basis":
        return MotionBasisModel.from_points(points, time_range, frame_range, **kw)
    raise InputError(f"motion model must be 'poly' or 'basis', got {kind!r}")


__all__ = ["MotionBasisModel", "SpacetimeModel", "make_model"]
