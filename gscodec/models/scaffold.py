"""Scaffold-GS as a trainable module: fixed anchors whose features decode, per camera, into k
neural Gaussians through three small MLPs (Lu et al. 2024), with HAC's learnable offset masks.

Why a module separate from the plain `AnchorScene`: the codec only needs data (anchors,
per-anchor attributes, MLP weights); this module knows how to run the MLPs, and is rebuilt
from an AnchorScene by `from_anchor_scene` (so a decoded stream renders without a checkpoint).

Conventions (as Scaffold-GS / HAC):
- anchors are voxel centres of the initial points and never move; `voxel_size`, when not
  given, is the median distance of a point to its nearest neighbour (see `default_voxel_size`);
- per anchor: feature [F], offsets [k,3] in units of exp(scaling[:, :3]), scaling [6] in log
  form, offset-mask logits [k] (sigmoid > mask_threshold, binarized with a straight-through
  estimator; a masked slot's opacity and scale are multiplied by 0);
- view input: direction from the camera centre to the anchor (unit) and, with use_dist, its
  distance; opacity = tanh(MLP) (Gaussians with opacity <= 0 or masked are dropped), scale =
  exp(scaling[:, 3:]) * sigmoid(MLP), rotation = normalized MLP quaternion, colour =
  sigmoid(MLP); centre = anchor + offsets * exp(scaling[:, :3]).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from gscodec.errors import InputError
from gscodec.scene.anchors import AnchorScene

ANCHOR_PARAMS = ("features", "scaling", "offsets", "mask_logits")
MLP_NAMES = ("mlp_opacity", "mlp_cov", "mlp_color")
DECODER_FORMAT = "scaffold-gs"
DECODER_VERSION = 1
MASK_ON, MASK_OFF = 10.0, -10.0  # logits standing for a decoded True / False mask
DECODERS: dict[str, type] = {}  # decoder_config["format"] -> the model class that renders it


def register_decoder(cls):
    """Class decorator: `cls` (a ScaffoldModel subclass with its own FORMAT) renders anchor
    scenes whose decoder_config names that format (e.g. Predict-GS's predicted features)."""
    DECODERS[cls.FORMAT] = cls
    return cls


def default_voxel_size(xyz: np.ndarray) -> float:
    """The anchor voxel size when none is given: the median nearest-neighbour distance of the
    initial points (Scaffold-GS uses the median kNN spacing too), so that on average one
    anchor stands for about one input point, whatever the scene's units."""
    from scipy.spatial import cKDTree

    xyz = np.asarray(xyz, np.float64)
    if len(xyz) < 2:
        return 0.01
    d, _ = cKDTree(xyz).query(xyz, k=2)
    v = float(np.median(d[:, 1]))
    if not v > 0:  # duplicated points: fall back to a fraction of the extent
        v = float(np.ptp(xyz, axis=0).max()) / 1000 or 0.01
    return v


def voxelize(xyz: np.ndarray, voxel_size: float) -> np.ndarray:
    """Unique voxel centres (round(x / v) * v, as Scaffold-GS) of the points, sorted."""
    grid = np.unique(np.round(np.asarray(xyz, np.float64) / voxel_size).astype(np.int64), axis=0)
    return (grid * voxel_size).astype(np.float32)


def _mlp(n_in: int, hidden: int, n_out: int, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(True), nn.Linear(hidden, n_out), act)


@dataclass
class NeuralGaussians:
    """The neural Gaussians spawned for one camera (after dropping opacity <= 0 / masked ones).

    means [M,3], quats [M,4] unit, scales [M,3] (activated), opacities [M] in (0,1],
    colors [M,3]; `slots` [M] the flat index anchor * k + j of each into the model's [N*k]
    slots (for gradient statistics), `anchor_ids` [V] the anchors that were evaluated and
    `opacity_all` [V,k] their masked opacities before dropping (for the pruning statistics).
    """

    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor
    slots: torch.Tensor
    anchor_ids: torch.Tensor
    opacity_all: torch.Tensor

    def __len__(self) -> int:
        return int(self.means.shape[0])


def binarize_mask(logits: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """HAC's mask: 1 where sigmoid(logit) > threshold, else 0; gradient of the sigmoid (STE)."""
    s = torch.sigmoid(logits)
    return ((s > threshold).to(s.dtype) - s).detach() + s


@register_decoder
class ScaffoldModel(nn.Module):
    """Anchors (a buffer, never trained), per-anchor parameters and the three decoding MLPs.

    Seams for methods that change the representation (a subclass, registered with
    register_decoder under its own FORMAT): `networks()` lists the modules the trainer
    optimizes and the stream stores, `decode(..., anchors=)` may use the anchor positions,
    `_from_scene` rebuilds the subclass from plain data."""

    FORMAT: ClassVar[str] = DECODER_FORMAT
    VERSION: ClassVar[int] = DECODER_VERSION

    def __init__(self, anchors: torch.Tensor, features: torch.Tensor, scaling: torch.Tensor,
                 offsets: torch.Tensor, mask_logits: torch.Tensor, *, voxel_size: float,
                 use_dist: bool = False, hidden_dim: int | None = None, mask_threshold: float = 0.01,
                 seed: int = 0, mlp_feat_dim: int | None = None):
        """mlp_feat_dim: width of the feature the three MLPs read (default: the per-anchor
        feature's; a subclass that predicts the feature from elsewhere sets its own)."""
        super().__init__()
        n, k = offsets.shape[:2]
        if anchors.shape != (n, 3) or scaling.shape != (n, 6) or features.shape[0] != n \
                or mask_logits.shape != (n, k) or offsets.shape[2:] != (3,):
            raise InputError(f"inconsistent Scaffold-GS shapes: anchors {list(anchors.shape)}, features "
                             f"{list(features.shape)}, scaling {list(scaling.shape)}, offsets "
                             f"{list(offsets.shape)}, mask {list(mask_logits.shape)}")
        if not voxel_size > 0:
            raise InputError(f"voxel_size must be > 0, got {voxel_size}")
        self.register_buffer("anchors", anchors.detach().clone().float())
        self.features = nn.Parameter(features.detach().clone().float())
        self.scaling = nn.Parameter(scaling.detach().clone().float())
        self.offsets = nn.Parameter(offsets.detach().clone().float())
        self.mask_logits = nn.Parameter(mask_logits.detach().clone().float())
        self.voxel_size = float(voxel_size)
        self.use_dist = bool(use_dist)
        self.mask_threshold = float(mask_threshold)
        f = int(mlp_feat_dim or features.shape[1])
        self.hidden_dim = int(hidden_dim or f)
        n_in = f + 3 + int(self.use_dist)
        g = torch.random.fork_rng(devices=[])
        with g:  # the MLP initialisation depends on `seed` only, not on the caller's RNG state
            torch.manual_seed(seed)
            self.mlp_opacity = _mlp(n_in, self.hidden_dim, k, nn.Tanh())
            self.mlp_cov = _mlp(n_in, self.hidden_dim, 7 * k, nn.Identity())
            self.mlp_color = _mlp(n_in, self.hidden_dim, 3 * k, nn.Sigmoid())

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def from_points(cls, points, *, voxel_size: float | None = None, feat_dim: int = 50,
                    n_offsets: int = 10, use_dist: bool = False, max_points: int | None = None,
                    init_mask_logit: float = 1.0, mask_threshold: float = 0.01,
                    seed: int = 0) -> ScaffoldModel:
        """Scaffold-GS initialisation: anchors at the voxel centres of the points, features and
        offsets zero, scaling log(mean distance to the 3 nearest anchors) in all 6 channels,
        mask logits `init_mask_logit` (HAC starts every slot on)."""
        from scipy.spatial import cKDTree

        xyz = np.asarray(getattr(points, "xyz", points), np.float32)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) == 0:
            raise InputError(f"initial points must be a non-empty [M,3] array, got shape {xyz.shape}")
        if not np.isfinite(xyz).all():
            raise InputError("initial points hold NaN or infinite positions")
        if max_points is not None and len(xyz) > max_points:
            xyz = xyz[np.random.default_rng(seed).choice(len(xyz), max_points, replace=False)]
        v = float(voxel_size) if voxel_size else default_voxel_size(xyz)
        anchors = voxelize(xyz, v)
        n = len(anchors)
        if n >= 4:
            d, _ = cKDTree(anchors).query(anchors, k=4)
            dist = np.sqrt((d[:, 1:] ** 2).mean(1))
        else:
            dist = np.full(n, v)
        dist = np.clip(dist, 1e-7, None)
        scaling = torch.from_numpy(np.log(dist)).float()[:, None].repeat(1, 6)
        return cls(torch.from_numpy(anchors), torch.zeros(n, feat_dim), scaling,
                   torch.zeros(n, n_offsets, 3), torch.full((n, n_offsets), float(init_mask_logit)),
                   voxel_size=v, use_dist=use_dist, mask_threshold=mask_threshold, seed=seed)

    def __len__(self) -> int:
        return int(self.anchors.shape[0])

    @property
    def feat_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_offsets(self) -> int:
        return int(self.offsets.shape[1])

    def anchor_params(self) -> dict[str, nn.Parameter]:
        return {name: getattr(self, name) for name in ANCHOR_PARAMS}

    def networks(self) -> dict[str, nn.Module]:
        """The decoder's networks by name: what the trainer optimizes and decoder_state stores."""
        return {name: getattr(self, name) for name in MLP_NAMES}

    @classmethod
    def coded_feat_dim(cls, feat_dim: int) -> int:
        """Width of the per-anchor feature the entropy model codes, for a run's feat_dim."""
        return feat_dim

    def on_switches(self, on: frozenset) -> None:
        """The training phases' switches now on (train.scaffold.Phase.turns_on); default: none used."""

    def rate_term(self) -> torch.Tensor | None:
        """Bits of the representation's own side information per coded anchor parameter, added
        to the rate while the rate term is on (default: none)."""
        return None

    def network_lr(self, name: str, cfg) -> tuple[float, float]:
        """(initial, final) learning rate of network `name` under a training config: its
        lr_<name> and lr_<name>_final fields (a subclass names its own networks' rates)."""
        return getattr(cfg, f"lr_{name}"), getattr(cfg, f"lr_{name}_final")

    def mask(self) -> torch.Tensor:
        """Binarized offset mask [N,k] (STE gradient to the logits)."""
        return binarize_mask(self.mask_logits, self.mask_threshold)

    def mask_loss(self) -> torch.Tensor:
        """HAC's mask rate proxy: mean(sigmoid(logits)) (the trainer weights it, 5e-4)."""
        return torch.sigmoid(self.mask_logits).mean()

    # ---- visibility ------------------------------------------------------------------
    @torch.no_grad()
    def anchor_radius(self) -> torch.Tensor:
        """A bound on how far an anchor's neural Gaussians reach: the longest offset plus three
        times the largest possible neural scale (the MLP's sigmoid is < 1)."""
        off = (self.offsets * self.scaling[:, None, :3].exp()).norm(dim=-1).max(1).values
        return off + 3 * self.scaling[:, 3:].exp().max(1).values

    @torch.no_grad()
    def visible_anchors(self, camera) -> torch.Tensor:
        """Anchors whose bounding sphere touches the camera frustum (bool [N]): the neural
        Gaussians of the others cannot be seen, so their MLPs are not run (a CPU speed-up)."""
        w2c = torch.as_tensor(camera.world_to_cam, dtype=torch.float32, device=self.anchors.device)
        p = self.anchors @ w2c[:3, :3].T + w2c[:3, 3]
        r = self.anchor_radius()
        x, y, z = p.unbind(-1)
        fx, fy, cx, cy, W, H = camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height
        ok = z > 0.01 - r
        ok &= (fx * x + cx * z) / math.hypot(fx, cx) > -r
        ok &= ((W - cx) * z - fx * x) / math.hypot(fx, W - cx) > -r
        ok &= (fy * y + cy * z) / math.hypot(fy, cy) > -r
        ok &= ((H - cy) * z - fy * y) / math.hypot(fy, H - cy) > -r
        return ok

    # ---- decoding ----------------------------------------------------------------------
    def decode(self, features: torch.Tensor, view_dirs: torch.Tensor,
               dists: torch.Tensor | None = None, anchors: torch.Tensor | None = None):
        """Run the three MLPs for anchors seen from directions view_dirs [...,3] (unit, camera ->
        anchor) -> (opacity [...,k] in (-1,1), scale factor [...,k,3] in (0,1),
        quats [...,k,4] unit, colours [...,k,3]). `anchors` ([...,3], the positions of the
        anchors the features belong to) is unused here; a subclass may decode from it."""
        k = self.n_offsets
        x = torch.cat([features, *self.view_input(view_dirs, dists)], -1)
        opacity = self.mlp_opacity(x)
        cov = self.mlp_cov(x).reshape(*x.shape[:-1], k, 7)
        color = self.mlp_color(x).reshape(*x.shape[:-1], k, 3)
        return opacity, torch.sigmoid(cov[..., :3]), nn.functional.normalize(cov[..., 3:], dim=-1), color

    def view_input(self, view_dirs: torch.Tensor, dists: torch.Tensor | None) -> list[torch.Tensor]:
        """What the MLPs read besides the feature: the view direction and, with use_dist, the
        distance (1 when not given)."""
        if not self.use_dist:
            return [view_dirs]
        return [view_dirs, dists[..., None] if dists is not None else torch.ones_like(view_dirs[..., :1])]

    def neural_gaussians(self, camera, features=None, scaling=None, offsets=None,
                         anchor_ids: torch.Tensor | None = None) -> NeuralGaussians:
        """The neural Gaussians seen by `camera`.

        features / scaling / offsets override the model's (e.g. quantization-simulated ones
        from the entropy model): for all N anchors, or, with `anchor_ids`, for those anchors
        only (then no frustum culling is done: the caller chose the anchors).
        """
        if anchor_ids is None:
            anchor_ids = torch.nonzero(self.visible_anchors(camera), as_tuple=True)[0]
            pick = lambda t, own: (own if t is None else t)[anchor_ids]
        else:
            anchor_ids = torch.as_tensor(anchor_ids, device=self.anchors.device).long()
            pick = lambda t, own: own[anchor_ids] if t is None else t
        feat = pick(features, self.features)
        scal = pick(scaling, self.scaling)
        offs = pick(offsets, self.offsets)
        anc = self.anchors[anchor_ids]
        mask = self.mask()[anchor_ids]
        centre = torch.as_tensor(camera.center, dtype=anc.dtype, device=anc.device)
        view = anc - centre
        dist = view.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        opacity, sfac, quats, color = self.decode(feat, view / dist, dist[:, 0], anchors=anc)
        opacity = opacity * mask
        k = self.n_offsets
        scales = scal[:, None, 3:].exp() * sfac * mask[..., None]
        means = anc[:, None, :] + offs * scal[:, None, :3].exp()
        keep = (opacity > 0).reshape(-1)
        slots = (anchor_ids[:, None] * k + torch.arange(k, device=anc.device)).reshape(-1)
        flat = lambda t, d: t.reshape(-1, d)[keep]
        return NeuralGaussians(means=flat(means, 3), quats=flat(quats, 4), scales=flat(scales, 3),
                               opacities=opacity.reshape(-1)[keep], colors=flat(color, 3),
                               slots=slots[keep], anchor_ids=anchor_ids, opacity_all=opacity)

    def render(self, camera, background=(0.0, 0.0, 0.0), backend: str = "auto", *, features=None,
               scaling=None, offsets=None, anchor_ids=None, **kw):
        """Render through gscodec.render.render -> RenderResult; meta["neural"] holds the
        NeuralGaussians (meta["means2d"] is [1,M,2] in their order)."""
        from gscodec.render import RenderResult, render
        from gscodec.scene.gaussian import GaussianScene

        ng = self.neural_gaussians(camera, features, scaling, offsets, anchor_ids)
        dev = self.anchors.device
        if len(ng) == 0:  # nothing in view: the background alone (no rasterizer call)
            img = torch.as_tensor(background, dtype=torch.float32, device=dev).expand(
                camera.height, camera.width, 3).clone()
            return RenderResult(image=img, alpha=torch.zeros(camera.height, camera.width, 1, device=dev),
                                meta={"neural": ng, "means2d": None, "radii": None})
        m = len(ng)
        scene = GaussianScene(means=ng.means, quats=ng.quats, log_scales=ng.scales.clamp_min(1e-30).log(),
                              opacity_logits=torch.zeros(m, device=dev), sh_dc=torch.zeros(m, 3, device=dev),
                              sh_rest=torch.zeros(m, 0, 3, device=dev))
        out = render(scene, camera, background=background, backend=backend, colors=ng.colors,
                     opacities=ng.opacities, **kw)
        out.meta["neural"] = ng
        return out

    def drawn(self, **attributes):
        """This model as a source the scorer (gscodec.scoring) draws with `render` (kw:
        features / scaling / offsets in place of the model's, e.g. a trainer's simulated ones)."""
        from gscodec.scene.renderable import Drawn

        return Drawn(lambda camera, background=(0.0, 0.0, 0.0), backend="auto":
                     self.render(camera, background, backend, **attributes))

    # ---- plain data ----------------------------------------------------------------------
    def decoder_config(self) -> dict:
        return {"format": self.FORMAT, "version": self.VERSION, "feat_dim": self.feat_dim,
                "n_offsets": self.n_offsets, "hidden_dim": self.hidden_dim, "use_dist": self.use_dist,
                "voxel_size": self.voxel_size, "mask_threshold": self.mask_threshold,
                "mlps": {"mlp_opacity": "linear-relu-linear-tanh", "mlp_cov": "linear-relu-linear",
                         "mlp_color": "linear-relu-linear-sigmoid"}}

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """The networks as training holds them (a checkpoint resumes from these); decoder_state
        is what a stream stores, which a subclass may reduce (e.g. binarized tables)."""
        return {f"{name}.{k}": v.detach().clone() for name, net in self.networks().items()
                for k, v in net.state_dict().items()}

    def decoder_state(self) -> dict[str, torch.Tensor]:
        return self.checkpoint_state()

    @torch.no_grad()
    def to_anchor_scene(self) -> AnchorScene:
        """The plain-data scene (detached copies): offset_mask is the binarized mask."""
        return AnchorScene(anchors=self.anchors.clone(), features=self.features.detach().clone(),
                           scaling=self.scaling.detach().clone(), offsets=self.offsets.detach().clone(),
                           offset_mask=torch.sigmoid(self.mask_logits) > self.mask_threshold,
                           decoder_state=self.decoder_state(), decoder_config=self.decoder_config())

    @classmethod
    def from_anchor_scene(cls, scene: AnchorScene) -> ScaffoldModel:
        """Rebuild the module from plain data (a decoded stream needs nothing else): the class
        registered for the scene's decoder format (this one, or a subclass of it)."""
        scene.check()
        fmt = scene.decoder_config.get("format")
        impl = DECODERS.get(fmt) if isinstance(fmt, str) else None
        if impl is None or not issubclass(impl, cls):
            known = sorted(k for k, v in DECODERS.items() if issubclass(v, cls))
            raise InputError(f"AnchorScene decoder_config is not a Scaffold-GS decoder this gscodec knows "
                             f"(format {fmt!r}; known: {', '.join(known)})")
        return impl._from_scene(scene)

    @classmethod
    def _from_scene(cls, scene: AnchorScene) -> ScaffoldModel:
        """from_anchor_scene for this FORMAT (the scene is checked); a subclass adds its own
        constructor arguments from the config through _format_kwargs."""
        cfg = scene.decoder_config
        if int(cfg.get("version", 0)) > cls.VERSION:
            raise InputError(f"{cls.FORMAT} decoder version {cfg.get('version')} is newer than this "
                             f"gscodec reads ({cls.VERSION})")
        if cfg.get("feat_dim") != scene.feat_dim or cfg.get("n_offsets") != scene.n_offsets:
            raise InputError(f"decoder_config (feat_dim {cfg.get('feat_dim')}, n_offsets {cfg.get('n_offsets')}) "
                             f"disagrees with the scene's tensors ({scene.feat_dim}, {scene.n_offsets})")
        logits = torch.where(scene.offset_mask.bool(), MASK_ON, MASK_OFF).float()
        thr = float(cfg.get("mask_threshold", 0.01))
        kw = {"voxel_size": float(cfg.get("voxel_size", 0.01)), "use_dist": bool(cfg.get("use_dist", False)),
              "hidden_dim": int(cfg.get("hidden_dim", scene.feat_dim)), "mask_threshold": thr}
        m = cls(scene.anchors, scene.features, scene.scaling, scene.offsets, logits, **{**kw, **cls._format_kwargs(cfg)})
        m.load_networks(scene.decoder_state)
        return m.to(scene.anchors.device)

    @classmethod
    def _format_kwargs(cls, cfg: dict) -> dict:
        """Constructor arguments this format reads from decoder_config beyond the base's."""
        return {}

    def load_networks(self, state: dict[str, torch.Tensor]) -> None:
        """Load decoder_state into networks(), refusing missing, unexpected or misshapen tensors."""
        nets = self.networks()
        want = {f"{name}.{k}" for name, net in nets.items() for k in net.state_dict()}
        have = set(state)
        if want != have:
            raise InputError(f"decoder_state does not match the decoder: missing {sorted(want - have)}, "
                             f"unexpected {sorted(have - want)}")
        for name, sub in nets.items():
            loaded = {}
            for k, v in sub.state_dict().items():
                w = state[f"{name}.{k}"]
                if tuple(w.shape) != tuple(v.shape):
                    raise InputError(f"decoder_state {name}.{k} has shape {list(w.shape)}, expected {list(v.shape)}")
                loaded[k] = w.float()
            sub.load_state_dict(loaded)


class _Viewpoint:
    """A position to decode view-dependent attributes from (no frustum: all anchors)."""

    def __init__(self, center):
        self.center = center


class AnchorSplats:
    """The renderable seam (gscodec.scene.renderable) of an AnchorScene: the neural Gaussians
    for a camera as a plain GaussianScene (colour as SH degree 0, opacity as logits), which
    any renderer or viewer draws. camera=None: every anchor, decoded as seen from the first
    training view the stream carries (else from above the scene's centre)."""

    view_dependent = True

    def __init__(self, scene: AnchorScene):
        self.scene = scene
        self.model = ScaffoldModel.from_anchor_scene(scene)

    @torch.no_grad()
    def splats(self, camera=None):
        from gscodec.render.sh import C0
        from gscodec.scene.gaussian import GaussianScene

        m = self.model
        if camera is None:
            views = self.scene.decoder_config.get("view_positions") or []
            a = m.anchors
            centre = (views[0] if views else
                      (a.mean(0) + torch.tensor([0.0, 0.0, 2.0]) * (a.max(0).values - a.min(0).values).max()).tolist()
                      if len(a) else [0.0, 0.0, 1.0])
            ng = m.neural_gaussians(_Viewpoint(tuple(float(v) for v in centre)), anchor_ids=torch.arange(len(a)))
        else:
            ng = m.neural_gaussians(camera)
        op = ng.opacities.clamp(1e-6, 1 - 1e-6)
        return GaussianScene(means=ng.means, quats=ng.quats, log_scales=ng.scales.clamp_min(1e-30).log(),
                             opacity_logits=torch.log(op / (1 - op)), sh_dc=(ng.colors - 0.5) / C0,
                             sh_rest=torch.zeros(len(ng), 0, 3, device=ng.means.device))


def render_anchor_scene(scene: AnchorScene, camera, background=(0.0, 0.0, 0.0), backend: str = "auto",
                        *, model: ScaffoldModel | None = None):
    """Render a plain AnchorScene (e.g. a decoded one) from one camera or a list (stacked).
    Pass `model` (from ScaffoldModel.from_anchor_scene) to skip rebuilding it per call."""
    from gscodec.data.cameras import Camera
    from gscodec.render import RenderResult

    model = model or ScaffoldModel.from_anchor_scene(scene)
    with torch.no_grad():
        if isinstance(camera, Camera):
            return model.render(camera, background, backend)
        outs = [model.render(c, background, backend) for c in camera]
    if not outs:
        raise InputError("render_anchor_scene needs at least one camera")
    return RenderResult(image=torch.stack([o.image for o in outs]), alpha=torch.stack([o.alpha for o in outs]),
                        meta={"per_camera": [o.meta for o in outs]})
