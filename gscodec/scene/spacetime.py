"""Spacetime Gaussians (STG, Li et al. CVPR 2024) as GSCodec Studio's Dynamic GSCodec uses them.

A `SpacetimeScene` is one group of frames (GOF): every splat has a centre that moves along
a cubic polynomial of time, a rotation with a linear angular velocity, a Gaussian-in-time
opacity on top of its spatial opacity, and a 9-float feature (base RGB + 6 specular/time
features) that is splatted and decoded to RGB per pixel by a tiny MLP taking the view
direction and time (`render.spacetime`). Time inside a GOF is local: tau = (t - t0) / (t1 - t0)
in [0, 1], so polynomial coefficients do not depend on the sequence's frame rate.

A `SpacetimeSequence` is the whole sequence: its GOFs, the frame rate and frame count. Both
are Renderables (gscodec.scene.renderable): `splats(camera)` is the slice at `camera.time`
with colours baked for that camera; `render_camera(camera)` draws it exactly (features
splatted, then decoded per pixel).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from gscodec.errors import InputError

FEATURE_DIM = 9  # base RGB (3) + 6 features the decoder MLP reads with direction and time
SPEC_DIM = FEATURE_DIM - 3
POLY_DEGREE = 3  # cubic motion of the centre (STG)
DECODER_HIDDEN = 16
DECODER_IN = SPEC_DIM + 3 + 1  # specular features, view direction, local time
# the stored attributes, in the order the codec and the model list them, with their shapes per splat
ATTRIBUTES = {"means": (3,), "motion": (POLY_DEGREE, 3), "quats": (4,), "omega": (4,), "log_scales": (3,),
              "opacity_logits": (), "t_center": (), "t_log_scale": (), "features": (FEATURE_DIM,)}
DECODER_SHAPES = {"w1": (DECODER_HIDDEN, DECODER_IN), "b1": (DECODER_HIDDEN,), "w2": (3, DECODER_HIDDEN), "b2": (3,)}


def init_decoder(seed: int = 0) -> dict[str, torch.Tensor]:
    """The decoder MLP's weights: small random first layer, zero output layer, so a new model
    renders its base colours exactly and learns view/time dependence from there."""
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(DECODER_SHAPES["w1"], generator=g) / math.sqrt(DECODER_IN)
    return {"w1": w1, "b1": torch.zeros(DECODER_HIDDEN), "w2": torch.zeros(DECODER_SHAPES["w2"]),
            "b2": torch.zeros(3)}


def local_time(t: float, time_range: tuple[float, float]) -> float:
    """tau in [0, 1] of a time in seconds inside a GOF (clamped outside it)."""
    t0, t1 = time_range
    if t1 <= t0:
        return 0.0
    return min(max((float(t) - t0) / (t1 - t0), 0.0), 1.0)


def slice_at(p: dict[str, torch.Tensor], tau: float) -> dict[str, torch.Tensor]:
    """The plain Gaussians at local time tau: means, quats (unnormalised), scales and
    activated opacities, differentiable in every attribute (the renderer normalises quats)."""
    dt = tau - p["t_center"]
    means = p["means"] + sum(p["motion"][:, k] * dt[:, None] ** (k + 1) for k in range(p["motion"].shape[1]))
    quats = p["quats"] + p["omega"] * dt[:, None]
    return {"means": means, "quats": quats, "scales": p["log_scales"].exp(),
            "opacities": torch.sigmoid(p["opacity_logits"]) * temporal_opacity(p, tau)}


def temporal_opacity(p: dict[str, torch.Tensor], tau: float) -> torch.Tensor:
    """exp(-((tau - t_center) / exp(t_log_scale))^2): how present each splat is at tau."""
    return torch.exp(-((tau - p["t_center"]) / p["t_log_scale"].exp()) ** 2)


def decode_colour(features: torch.Tensor, dirs: torch.Tensor, tau: float,
                  decoder: dict[str, torch.Tensor]) -> torch.Tensor:
    """RGB [..., 3] = base + MLP(specular features, unit view direction, tau) for features
    [..., 9] and directions [..., 3] (per pixel after splatting, or per splat when baking)."""
    t = torch.full_like(dirs[..., :1], float(tau))
    x = torch.cat([features[..., 3:], dirs, t], -1)
    h = torch.relu(x @ decoder["w1"].T + decoder["b1"])
    return features[..., :3] + h @ decoder["w2"].T + decoder["b2"]


def _fibonacci_dirs(n: int = 64) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r, phi = (1 - z * z).sqrt(), math.pi * (1 + 5 ** 0.5) * i
    return torch.stack([r * phi.cos(), r * phi.sin(), z], 1).float()


@dataclass
class SpacetimeScene:
    """One GOF of Spacetime Gaussians in stored form (see ATTRIBUTES for the shapes)."""

    means: torch.Tensor
    motion: torch.Tensor
    quats: torch.Tensor
    omega: torch.Tensor
    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    t_center: torch.Tensor
    t_log_scale: torch.Tensor
    features: torch.Tensor
    decoder: dict[str, torch.Tensor]
    time_range: tuple[float, float] = (0.0, 0.0)  # seconds covered, [t0, t1]
    frame_range: tuple[int, int] = (0, 1)  # frames covered, [f0, f1)
    static: torch.Tensor | None = None  # bool [N]: splats stored without motion (may be None)
    entropy_model: object = field(default=None, repr=False, compare=False)  # the training simulation, for the codec
    view_dependent = True

    def __len__(self) -> int:
        return int(self.means.shape[0])

    def attributes(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k) for k in ATTRIBUTES}

    def check(self) -> "SpacetimeScene":
        n = len(self)
        for name, shape in ATTRIBUTES.items():
            t = getattr(self, name)
            if tuple(t.shape) != (n, *shape):
                raise InputError(f"spacetime scene: {name} has shape {list(t.shape)}, expected {[n, *shape]}")
            if not torch.isfinite(t).all():
                raise InputError(f"spacetime scene: {name} has NaN/Inf values")
        for name, shape in DECODER_SHAPES.items():
            if name not in self.decoder or tuple(self.decoder[name].shape) != shape:
                raise InputError(f"spacetime scene: decoder weight {name} missing or not {list(shape)}")
        f0, f1 = self.frame_range
        if not 0 <= f0 < f1:
            raise InputError(f"spacetime scene: bad frame range {self.frame_range}")
        return self

    def detach(self) -> "SpacetimeScene":
        return self._map(lambda t: t.detach())

    def to(self, device) -> "SpacetimeScene":
        return self._map(lambda t: t.to(device))

    def _map(self, fn) -> "SpacetimeScene":
        kw = {k: fn(v) for k, v in self.attributes().items()}
        return replace(self, **kw, decoder={k: fn(v) for k, v in self.decoder.items()},
                       static=None if self.static is None else fn(self.static))

    def tau(self, t: float | None) -> float:
        return local_time(self.time_range[0] if t is None else t, self.time_range)

    def covers(self, frame: int) -> bool:
        return self.frame_range[0] <= frame < self.frame_range[1]

    # ---- the renderable seam ----------------------------------------------------------
    def slice_scene(self, t: float | None = None, camera=None, sh_degree: int = 1):
        """A standard GaussianScene at time t (seconds): the splats at that moment, colour
        from the decoder per splat, baked for `camera`'s direction when one is given (then
        only DC), else fitted over directions to SH of `sh_degree` (0 or 1) for a PLY that
        any 3DGS viewer shows. Splats whose temporal opacity is below 1/255 are left out."""
        from gscodec.models.gaussians import SH_C0
        from gscodec.scene.gaussian import GaussianScene

        tau = self.tau(t)
        p = self.attributes()
        with torch.no_grad():
            s = slice_at(p, tau)
            keep = s["opacities"] >= 1.0 / 255
            opac = s["opacities"][keep].clamp(1e-6, 1 - 1e-6)
            means, feats = s["means"][keep], p["features"][keep]
            if camera is not None:
                d = torch.nn.functional.normalize(means - camera.center.to(means), dim=-1)
                dc, rest = (decode_colour(feats, d, tau, self.decoder) - 0.5) / SH_C0, torch.zeros(len(means), 0, 3)
            else:
                dc, rest = self._fit_sh(feats, tau, sh_degree)
            return GaussianScene(means=means, quats=s["quats"][keep], log_scales=p["log_scales"][keep],
                                 opacity_logits=torch.logit(opac), sh_dc=dc, sh_rest=rest)

    def _fit_sh(self, feats: torch.Tensor, tau: float, degree: int):
        """Least-squares SH (degree 0 or 1) of each splat's decoded colour over 64 directions."""
        from gscodec.render.sh import eval_sh

        if degree not in (0, 1):
            raise InputError(f"spacetime colours bake to SH degree 0 or 1, got {degree}")
        dirs = _fibonacci_dirs()
        cols = torch.stack([decode_colour(feats, d.expand(len(feats), 3), tau, self.decoder) for d in dirs], 1)
        k = (degree + 1) ** 2
        basis = eval_sh(degree, torch.eye(k).expand(len(dirs), k, k), dirs)  # [64, K]: the SH basis
        # one pseudo-inverse for the basis all splats share (a batched lstsq is ~1e4x slower with
        # 2 threads); colour = 0.5 + basis @ coef (3DGS's SH convention), coef [N, K, 3]
        pinv = torch.linalg.pinv(basis.double())  # [K, 64]
        coef = torch.einsum("kd,ndc->nkc", pinv, cols.double() - 0.5).float()
        return coef[:, 0], coef[:, 1:]

    def splats(self, camera=None):
        return self.slice_scene(None if camera is None else camera.time, camera)

    def render_camera(self, camera, **kw):
        from gscodec.render.spacetime import render_spacetime

        return render_spacetime(self, camera, **kw)


@dataclass
class SpacetimeSequence:
    """A whole dynamic sequence: GOFs covering frames [0, n_frames) in order, at `fps`."""

    gofs: list[SpacetimeScene]
    fps: float
    n_frames: int
    meta: dict = field(default_factory=dict)
    view_dependent = True

    def check(self) -> "SpacetimeSequence":
        if not self.gofs or self.fps <= 0:
            raise InputError("spacetime sequence: no groups of frames, or fps <= 0")
        f = 0
        for g in self.gofs:
            g.check()
            if g.frame_range[0] != f:
                raise InputError(f"spacetime sequence: GOF {g.frame_range} does not start at frame {f}")
            f = g.frame_range[1]
        if f != self.n_frames:
            raise InputError(f"spacetime sequence: GOFs cover {f} frames, the sequence has {self.n_frames}")
        return self

    def __len__(self) -> int:
        return sum(len(g) for g in self.gofs)

    def frame_of(self, t: float | None) -> int:
        return 0 if t is None else min(max(int(round(float(t) * self.fps)), 0), self.n_frames - 1)

    def gof_at(self, t: float | None) -> SpacetimeScene:
        f = self.frame_of(t)
        for g in self.gofs:
            if g.covers(f):
                return g
        return self.gofs[-1]

    def splats(self, camera=None):
        return self.gof_at(None if camera is None else camera.time).splats(camera)

    def render_camera(self, camera, **kw):
        return self.gof_at(camera.time).render_camera(camera, **kw)


__all__ = ["ATTRIBUTES", "DECODER_SHAPES", "FEATURE_DIM", "POLY_DEGREE", "SpacetimeScene", "SpacetimeSequence",
           "decode_colour", "init_decoder", "local_time", "slice_at", "temporal_opacity"]
