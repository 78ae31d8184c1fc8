"""Scaffold-GS training with HAC's schedule: plain, then quantization noise at fixed steps, then
hash-grid context + adaptive steps + rate loss; anchor growing and pruning as Scaffold-GS.

Schedule (HAC, 30k iterations; `ScaffoldConfig.scaled(n)` rescales every step field):
  [0, plain_until)           plain Scaffold-GS
  [plain_until, noise_until) uniform noise at the fixed steps Q0 (feature 1, scaling 1e-3, offsets 0.2)
  [noise_until, iterations)  entropy model in "context" mode: adaptive Q, loss += lambda_rate * rate
  statistics from stat_start; growing/pruning every grow_every steps in (grow_from, grow_until).
Without an entropy model the noise (and context) phases add the same fixed-step noise inline
and there is no rate term, so the model still learns to survive quantization.

Growing and pruning are a strategy object (gscodec.train.anchor_growth.AnchorGrowth), as
3DGS's densification is (train/densify.py); the phases are data (`ScaffoldConfig.phases`),
which a method extends with its own (`Phase`) without editing this trainer.
"""
from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from gscodec.data.dataset import Dataset
from gscodec.errors import InputError
from gscodec.metrics import ssim
from gscodec.models.scaffold import ScaffoldModel
from gscodec.scene.anchors import AnchorScene
from gscodec.scoring import score_views
from gscodec.simulate.quantize import simulate_quantization, train_or_round
from gscodec.train.anchor_growth import AnchorGrowth
from gscodec.utils.config import ConfigBase
from gscodec.utils.io import atomic_open

HAC_ITERATIONS = 30_000
SCHEDULE_FIELDS = ("plain_until", "noise_until", "stat_start", "grow_from", "grow_until")


@dataclass(frozen=True)
class Phase:
    """From step `start` on: the entropy model runs in `mode` (plain | noise | context; None
    keeps the mode of the phase before) and the switches in `turns_on` are on for good (e.g.
    Predict-GS's "residual"). `name` is the method's name for it. A method adds phases
    instead of editing the trainer; the entropy model hears of each new phase through
    `on_phase(phase)`, the representation of the switches through `on_switches(set)`."""

    start: int
    name: str
    mode: str | None = None
    turns_on: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "turns_on", tuple(self.turns_on))  # a list from a checkpoint's JSON

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "turns_on": list(self.turns_on)}


def active_phase(phases: tuple[Phase, ...], step: int) -> Phase:
    """The last phase that has started at `step`."""
    current = phases[0]
    for p in phases:
        if p.start <= step:
            current = p
    return current


def active_mode(phases: tuple[Phase, ...], step: int) -> str:
    """The entropy-model mode at `step`: that of the last started phase that names one."""
    modes = [p.mode for p in phases if p.start <= step and p.mode is not None]
    return modes[-1] if modes else "plain"


def switches(phases: tuple[Phase, ...], step: int) -> frozenset[str]:
    """Everything the phases started by `step` have turned on."""
    return frozenset(x for p in phases if p.start <= step for x in p.turns_on)


VIEW_SCALE_SHAPES = ("cosine", "linear", "fixed", "none")


@dataclass(frozen=True)
class ViewScale:
    """Training views down-scaled by a factor going from `start` to 1.0 over the first
    `steps` steps (then 1.0), cosine-annealed as Predict-GS (eq. 6), linearly, or held at
    `start` ("fixed": Predict-GS's "Non" of its Table 6); "none": full resolution throughout.
    The ground truth is resized bilinearly. A schedule of the run, like the phases."""

    start: float
    steps: int
    shape: str = "cosine"

    def __post_init__(self):
        if not 0 < self.start <= 1 or self.steps < 0 or self.shape not in VIEW_SCALE_SHAPES:
            raise InputError(f"ViewScale needs 0 < start <= 1, steps >= 0 and shape "
                             f"{'|'.join(VIEW_SCALE_SHAPES)}, got {self}")

    def at(self, step: int) -> float:
        if self.shape == "none" or step >= self.steps:
            return 1.0
        t = step / max(self.steps, 1)
        if self.shape == "fixed":
            return self.start
        if self.shape == "linear":
            return self.start + (1.0 - self.start) * t
        return 1.0 + 0.5 * (self.start - 1.0) * (1 + math.cos(math.pi * t))


@dataclass
class ScaffoldConfig(ConfigBase):
    WHAT: ClassVar[str] = "Scaffold-GS training config"

    iterations: int = HAC_ITERATIONS
    # representation
    feat_dim: int = 50
    n_offsets: int = 10
    use_dist: bool = False
    voxel_size: float = 0.0  # 0: median nearest-neighbour spacing of the initial points
    max_init_points: int | None = None
    init_mask_logit: float = 1.0
    mask_threshold: float = 0.01
    # losses
    lambda_dssim: float = 0.2
    lambda_rate: float = 0.004
    lambda_mask: float = 5e-4
    lambda_volume: float = 0.01  # Scaffold-GS: mean product of the neural Gaussians' scales
    # learning rates (Scaffold-GS / HAC); *_final: exponential decay to it over `iterations`
    lr_offsets: float = 0.01  # times the scene extent, as Scaffold-GS
    lr_offsets_final: float = 0.0001
    lr_features: float = 0.0075
    lr_scaling: float = 0.007
    lr_mask: float = 0.01
    lr_mask_final: float = 0.0001
    lr_mlp_opacity: float = 0.002
    lr_mlp_opacity_final: float = 0.00002
    lr_mlp_cov: float = 0.004
    lr_mlp_cov_final: float = 0.004
    lr_mlp_color: float = 0.008
    lr_mlp_color_final: float = 0.00005
    lr_entropy: float = 0.005  # hash grid + context MLP, decayed over the context phase
    lr_entropy_final: float = 0.00001
    # schedule (HAC's 30k defaults)
    plain_until: int = 3000
    noise_until: int = 10_000
    stat_start: int = 500
    grow_from: int = 1500
    grow_until: int = 15_000
    grow_every: int = 100
    grow_grad: float = 0.0002
    success_threshold: float = 0.8
    prune_opacity: float = 0.005
    update_depth: int = 3
    update_init_factor: int = 16
    update_hierarchy_factor: int = 4
    max_anchors: int = 2_000_000
    # fixed steps of the noise phase when no entropy model is given (HAC's Q0)
    q0_feature: float = 1.0
    q0_scaling: float = 0.001
    q0_offsets: float = 0.2
    # bookkeeping
    eval_every: int = 0
    checkpoint_every: int = 0
    seed: int = 0
    backend: str = "auto"
    device: str = "cpu"

    @classmethod
    def scaled(cls, iterations: int, **overrides) -> ScaffoldConfig:
        """HAC's 30k schedule scaled to `iterations` by the rule of gscodec.train.schedule
        (phases and the growth window are positions, grow_every an interval); overrides win."""
        from gscodec.train.schedule import scaled_schedule

        kw = scaled_schedule(dataclasses.asdict(cls()), iterations, positions=SCHEDULE_FIELDS,
                             intervals=("grow_every",), reference=HAC_ITERATIONS)
        return cls(**{**kw, "iterations": iterations, **overrides}).validate()

    def validate(self) -> ScaffoldConfig:
        if self.iterations < 0:
            raise InputError("iterations must be >= 0")
        if not 0 <= self.plain_until <= self.noise_until:
            raise InputError(f"schedule needs 0 <= plain_until <= noise_until, got {self.plain_until}, "
                             f"{self.noise_until}")
        if self.grow_every < 1:
            raise InputError(f"grow_every must be >= 1, got {self.grow_every}")
        if self.feat_dim < 1 or self.n_offsets < 1:
            raise InputError(f"feat_dim and n_offsets must be >= 1, got {self.feat_dim}, {self.n_offsets}")
        if self.voxel_size < 0:
            raise InputError(f"voxel_size must be >= 0 (0: from the data), got {self.voxel_size}")
        if self.update_init_factor < 1 or self.update_hierarchy_factor < 1 or self.update_depth < 0:
            raise InputError("update_init_factor, update_hierarchy_factor must be >= 1 and update_depth >= 0")
        return self

    def phases(self, extra: tuple[Phase, ...] = ()) -> tuple[Phase, ...]:
        """HAC's three phases plus a method's own (`extra`), ordered by start step (at the same
        step, a later one in the list wins)."""
        base = (Phase(0, "plain", "plain"), Phase(self.plain_until, "noise", "noise"),
                Phase(self.noise_until, "context", "context"))
        return tuple(sorted(base + tuple(extra), key=lambda p: p.start))

    def check_rate_phase(self, codec: str, phases: tuple[Phase, ...] | None = None) -> ScaffoldConfig:
        """Refuse, before training, a schedule whose rate phase (entropy model + rate, what
        codec `codec` codes with) would never begin."""
        starts = [p.start for p in (phases or self.phases()) if p.mode == "context"]  # the first context phase
        if not starts or min(starts) >= self.iterations:
            first = min(starts) if starts else None
            raise InputError(f"{codec}: the entropy model's phase starts at step {first} but training ends "
                             f"at step {self.iterations}, so it would never be trained: raise --iterations or set "
                             f"noise_until below {self.iterations}")
        return self

    def phase(self, step: int) -> str:
        """The name of the phase of a 0-based step ('plain', 'noise' or 'context' for HAC)."""
        return active_phase(self.phases(), step).name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)



def _exp_lr(step: int, total: int, lr0: float, lr1: float) -> float:
    t = min(max(step, 0) / max(total, 1), 1.0)
    if lr0 <= 0 or lr1 <= 0:
        return lr0 * (1 - t) + lr1 * t
    return math.exp((1 - t) * math.log(lr0) + t * math.log(lr1))


class ScaffoldTrainer:
    """One camera per step: L1 + λ·D-SSIM + mask + volume (+ λ_rate · rate in the context phase)."""

    def __init__(self, dataset: Dataset, cfg: ScaffoldConfig, out_dir: str | Path | None = None,
                 entropy_model: torch.nn.Module | None = None, model: ScaffoldModel | None = None,
                 phases: tuple[Phase, ...] | None = None, model_class: type[ScaffoldModel] = ScaffoldModel,
                 view_scale: ViewScale | None = None):
        """phases: the schedule as data (default cfg.phases(): HAC's plain, noise, context);
        model_class: the representation built from the points when `model` is not given (a
        ScaffoldModel subclass, e.g. one that predicts features; its networks() are trained);
        view_scale: down-scaled training views early on (None: full resolution throughout)."""
        self.ds = dataset.check()
        self.cfg = cfg.validate()
        self.phases = tuple(phases) if phases else cfg.phases()
        self._last_phase: Phase | None = None
        self._last_switches: frozenset | None = None
        self.view_scale = view_scale
        self.out = Path(out_dir) if out_dir else None
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        self.extent = dataset.scene_extent()
        self.model = model or model_class.from_points(
            dataset.points, voxel_size=cfg.voxel_size or None, feat_dim=cfg.feat_dim, n_offsets=cfg.n_offsets,
            use_dist=cfg.use_dist, max_points=cfg.max_init_points, init_mask_logit=cfg.init_mask_logit,
            mask_threshold=cfg.mask_threshold, seed=cfg.seed)
        self.model.to(self.device)
        self.entropy_model = entropy_model
        self.optimizers = self._make_optimizers()
        if entropy_model is not None:
            entropy_model.to(self.device)
            if hasattr(entropy_model, "set_bounds"):
                self._set_bounds()
            if hasattr(entropy_model, "set_lambda"):
                entropy_model.set_lambda(cfg.lambda_rate)  # a variable-rate model codes at the run's λ
        self.step = 0
        self.history: list[dict] = []
        self.train_ids = dataset.train_indices
        if not self.train_ids:
            raise InputError("the dataset has no training views")
        self._order: list[int] = []
        self.bg = tuple(float(b) for b in dataset.background)
        self.growth = AnchorGrowth(self.cfg)
        self.growth.reset(self.model)

    # ---- set-up --------------------------------------------------------------------------
    def _make_optimizers(self) -> dict[str, torch.optim.Adam]:
        m, c = self.model, self.cfg
        lr0 = {"features": c.lr_features, "scaling": c.lr_scaling, "offsets": c.lr_offsets * self.extent,
               "mask_logits": c.lr_mask}
        opts = {n: torch.optim.Adam([{"params": [p], "lr": lr0[n], "name": n}], eps=1e-15)
                for n, p in m.anchor_params().items()}
        for n, net in m.networks().items():
            opts[n] = torch.optim.Adam(net.parameters(), lr=m.network_lr(n, c)[0], eps=1e-15)
        if self.entropy_model is not None and any(p.requires_grad for p in self.entropy_model.parameters()):
            opts["entropy"] = torch.optim.Adam(self.entropy_model.parameters(), lr=c.lr_entropy, eps=1e-15)
        return opts

    def _update_lrs(self) -> None:
        c, s, T = self.cfg, self.step, self.cfg.iterations
        lrs = {"offsets": _exp_lr(s, T, c.lr_offsets, c.lr_offsets_final) * self.extent,
               "mask_logits": _exp_lr(s, T, c.lr_mask, c.lr_mask_final)}
        for n in self.model.networks():
            lrs[n] = _exp_lr(s, T, *self.model.network_lr(n, c))
        if "entropy" in self.optimizers:
            lrs["entropy"] = _exp_lr(s - c.noise_until, T - c.noise_until, c.lr_entropy, c.lr_entropy_final)
        for n, lr in lrs.items():
            for g in self.optimizers[n].param_groups:
                g["lr"] = lr

    @torch.no_grad()
    def _set_bounds(self) -> None:
        """The hash grid spans the anchors' box (padded by one voxel so edge anchors are inside)."""
        a = self.model.anchors
        pad = self.model.voxel_size
        self.entropy_model.set_bounds((a.min(0).values - pad).cpu(), (a.max(0).values + pad).cpu())


    def _next_camera(self) -> int:
        if not self._order:
            self._order = list(self.train_ids)
            self.rng.shuffle(self._order)
        return self._order.pop()

    def active(self, step: int | None = None) -> Phase:
        return active_phase(self.phases, self.step if step is None else step)

    def phase(self, step: int | None = None) -> str:
        return self.active(step).name

    def mode(self, step: int | None = None) -> str:
        return active_mode(self.phases, self.step if step is None else step)

    # ---- compression simulation ----------------------------------------------------------
    def simulate(self, mode: str, sample: torch.Tensor | None = None):
        """(features, scaling, offsets, rate_loss or None, bits) of all anchors as the renderer
        should see them in `mode`: raw (plain), fixed-step noise / rounding, or through the
        entropy model (which adds its adaptive steps and the rate in 'context')."""
        m = self.model
        if mode == "plain":
            return m.features, m.scaling, m.offsets, None, {}
        em = self.entropy_model
        if em is not None:
            out = em(m.anchors, m.features, m.scaling, m.offsets, m.mask().detach() > 0.5, mode=mode,
                     sample=sample)
            rate = out.rate_loss if mode == "context" else None
            return out.features, out.scaling, out.offsets, rate, dict(out.bits)
        c, how = self.cfg, train_or_round(m.training)
        return (simulate_quantization(m.features, c.q0_feature, how), simulate_quantization(m.scaling, c.q0_scaling, how),
                simulate_quantization(m.offsets, c.q0_offsets, how), None, {})

    # ---- one step ------------------------------------------------------------------------
    def train_step(self) -> dict:
        cfg, m = self.cfg, self.model
        phase = self.active()
        em = self.entropy_model
        if phase != self._last_phase:
            if em is not None and hasattr(em, "on_phase"):
                em.on_phase(phase)
            if em is not None and getattr(em, "wants_gradients", None) and em.wants_gradients(phase):
                em.set_gradients(self.attribute_gradients())  # e.g. MoP's element-wise step weights
            self._last_phase = phase
        if em is not None and hasattr(em, "on_step"):
            em.on_step(self.step, cfg.iterations)  # e.g. an annealed temperature
        self._apply_switches()
        mode = self.mode()
        if mode == "context" and self.entropy_model is not None and not getattr(self, "_bounds_at_context", False):
            self._set_bounds()  # anchors grew since the start: span them as they are now
            self._bounds_at_context = True
        m.train()
        if self.entropy_model is not None:
            self.entropy_model.train()
        self._update_lrs()
        idx = self._next_camera()
        cam, gt = self._view(idx)
        sample = None
        if mode == "context" and self.entropy_model is not None and hasattr(self.entropy_model, "rate_sample"):
            sample = self.entropy_model.rate_sample(len(m), device=self.device)
        feats, scal, offs, rate, bits = self.simulate(mode, sample)
        out = m.render(cam, self.bg, cfg.backend, features=feats, scaling=scal, offsets=offs)
        ng = out.meta["neural"]
        if out.meta.get("means2d") is not None:
            out.meta["means2d"].retain_grad()
        img = out.image
        l1 = (img - gt).abs().mean()
        loss = (1 - cfg.lambda_dssim) * l1 + cfg.lambda_dssim * (1 - ssim(img, gt))
        if len(ng) and cfg.lambda_volume:
            loss = loss + cfg.lambda_volume * ng.scales.prod(dim=1).mean()
        if cfg.lambda_mask:
            loss = loss + cfg.lambda_mask * m.mask_loss()
        if rate is not None and (extra := m.rate_term()) is not None:
            rate = rate + extra  # the representation's own coded side information (e.g. a feature pool)
        lam = em.rate_lambda(cfg.lambda_rate) if em is not None and hasattr(em, "rate_lambda") else cfg.lambda_rate
        if rate is not None and lam:
            loss = loss + lam * rate  # a variable-rate model weighs each step by the λ it drew
        if loss.requires_grad:  # False only when nothing is in view and no regularizer is on
            loss.backward()
        for opt in self.optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        self._post_backward(out.meta, ng)
        self.step += 1
        mse = float(((img.detach().clamp(0, 1) - gt) ** 2).mean())
        stats = {"loss": float(loss.detach()), "psnr": -10 * math.log10(max(mse, 1e-12)), "n": len(m),
                 "gaussians": len(ng), "mode": mode}
        if bits:
            stats["bits"] = {k: float(v.detach()) for k, v in bits.items()}
        return stats

    def attribute_gradients(self, max_views: int = 64) -> dict[str, torch.Tensor]:
        """Mean |d rendering loss / d attribute| per element over the training views (at most
        max_views, evenly spaced), attributes simulated as this step's phase does; no
        optimizer step. {"feature": [N, F], "scaling": [N, 6], "offsets": [N, 3k]}: a service
        for entropy models that weigh elements by their effect on the render."""
        cfg, m = self.cfg, self.model
        ids = self.train_ids[:: max(1, math.ceil(len(self.train_ids) / max_views))]
        params = {"feature": m.features, "scaling": m.scaling, "offsets": m.offsets}
        acc = {g: torch.zeros_like(p) for g, p in params.items()}
        m.train()
        if self.entropy_model is not None:
            self.entropy_model.train()  # the training simulation (rounding would pass no gradient)
        for idx in ids:
            cam, gt = self.ds.cameras[idx], self.ds.image(idx).to(self.device)
            feats, scal, offs, _, _ = self.simulate(self.mode(), None)
            img = m.render(cam, self.bg, cfg.backend, features=feats, scaling=scal, offsets=offs).image
            loss = (1 - cfg.lambda_dssim) * (img - gt).abs().mean() + cfg.lambda_dssim * (1 - ssim(img, gt))
            if not loss.requires_grad:  # nothing in view
                continue
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
            for g, gr in zip(params, grads):
                if gr is not None:
                    acc[g] += gr.detach().abs()
        n = len(m)
        return {g: (a / max(len(ids), 1)).reshape(n, -1) for g, a in acc.items()}

    def _apply_switches(self) -> None:
        sw = switches(self.phases, self.step)
        if sw != self._last_switches:
            self.model.on_switches(sw)
            self._last_switches = sw

    def _view(self, idx: int):
        """Camera and ground truth of training view idx at this step's scale (bilinear)."""
        cam, gt = self.ds.cameras[idx], self.ds.image(idx).to(self.device)
        s = self.view_scale.at(self.step) if self.view_scale is not None else 1.0
        if s >= 1.0:
            return cam, gt
        small = cam.scaled(1.0 / s)
        gt = torch.nn.functional.interpolate(gt.permute(2, 0, 1)[None], size=(small.height, small.width),
                                             mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
        return small, gt

    # ---- growing and pruning: the strategy's (train/anchor_growth.py) -------------------------
    @torch.no_grad()
    def _post_backward(self, meta: dict, ng) -> None:
        self.growth.step_post_backward(self.model, self.optimizers, meta, ng, self.step)

    # ---- evaluation ----------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, indices: list[int] | None = None, quantized: bool = True) -> dict:
        """Test-view PSNR/SSIM of the model as it would decode now (rounded attributes from
        the noise phase on; quantized=False: the raw attributes), and the model's estimated
        bits of all anchors when an entropy model is there."""
        indices = self.ds.test_indices if indices is None else indices
        if not indices:
            return {}
        self._apply_switches()
        m, mode = self.model, self.mode() if quantized else "plain"
        m.eval()
        if self.entropy_model is not None:
            self.entropy_model.eval()
        feats, scal, offs, _, bits = self.simulate(mode)
        s = score_views(m.drawn(features=feats, scaling=scal, offsets=offs), [self.ds.cameras[i] for i in indices],
                        lambda k: self.ds.image(indices[k]), background=self.bg, backend=self.cfg.backend)
        m.train()
        ps, ss = s.psnr, s.ssim  # summed in order, as this method always has (np.mean may differ in the last bit)
        res = {"step": self.step, "mode": mode, "psnr": sum(ps) / len(ps), "ssim": sum(ss) / len(ss),
               "n_anchors": len(m), "active_offsets": int((torch.sigmoid(m.mask_logits) > m.mask_threshold).sum())}
        if bits:
            res["bits"] = {k: float(v.detach()) for k, v in bits.items()}
        return res

    def train(self, iterations: int | None = None, progress: bool = True) -> dict:
        from gscodec.train.loop import run_training

        return run_training(self, iterations, progress, "training scaffold", lambda st: {
            "phase": st["mode"], "loss": f"{st['loss']:.4f}", "psnr": f"{st['psnr']:.2f}", "anchors": f"{st['n']:,}"})

    def result_scene(self) -> AnchorScene:
        """The trained scene as plain data, with the entropy model attached for the encoder."""
        scene = self.model.to_anchor_scene()
        scene.entropy_model = self.entropy_model
        return scene

    # ---- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        m = self.model
        return {
            "step": self.step,
            "config": self.cfg.to_dict(),
            "phases": [p.to_dict() for p in self.phases],
            "model": {"anchors": m.anchors.detach().cpu(),
                      **{k: v.detach().cpu() for k, v in m.anchor_params().items()},
                      "decoder_state": {k: v.cpu() for k, v in m.checkpoint_state().items()},
                      "decoder_config": m.decoder_config()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "entropy_model": self.entropy_model,
            "entropy_state": None if self.entropy_model is None else
            {k: v.detach().cpu().clone() for k, v in self.entropy_model.state_dict().items()},
            "bounds_at_context": getattr(self, "_bounds_at_context", False),
            "view_scale": None if self.view_scale is None else dataclasses.asdict(self.view_scale),
            "stats": self.growth.state(),
            "rng": self.rng.getstate(),
            "order": list(self._order),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
        }

    def save_checkpoint(self, path: str | Path) -> None:
        with atomic_open(path, "wb") as f:
            torch.save(self.state_dict(), f)

    @classmethod
    def resume(cls, dataset: Dataset, path: str | Path, out_dir=None,
               entropy_model: torch.nn.Module | None = None) -> ScaffoldTrainer:
        """Continue a run exactly. The entropy model comes back from the checkpoint (pickled),
        or, when given, is the one passed with the checkpoint's weights loaded into it."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no checkpoint to resume from")
        try:
            st = torch.load(path, map_location="cpu", weights_only=False)
            mst = st["model"]
        except Exception as e:  # noqa: BLE001 - a torn or foreign file is a user input problem
            raise InputError(f"{path}: not a readable gscodec Scaffold-GS checkpoint ({e})") from None
        scene = AnchorScene(anchors=mst["anchors"], features=mst["features"], scaling=mst["scaling"],
                            offsets=mst["offsets"], offset_mask=torch.ones_like(mst["mask_logits"], dtype=torch.bool),
                            decoder_state=mst["decoder_state"], decoder_config=mst["decoder_config"])
        model = ScaffoldModel.from_anchor_scene(scene)
        with torch.no_grad():
            model.mask_logits.copy_(mst["mask_logits"])
        em = entropy_model if entropy_model is not None else st.get("entropy_model")
        phases = tuple(Phase(**p) for p in st["phases"]) if st.get("phases") else None
        vs = ViewScale(**st["view_scale"]) if st.get("view_scale") else None
        t = cls(dataset, ScaffoldConfig.from_dict(st["config"]), out_dir, entropy_model=em, model=model, phases=phases,
                view_scale=vs)
        if em is not None and st.get("entropy_state") is not None:
            # after the constructor, which sets bounds from the anchors; the state is a copy (cloned
            # at save), not the pickled model's own buffers, which the constructor just overwrote
            em.load_state_dict(st["entropy_state"])
        if set(t.optimizers) != set(st["optimizers"]):
            raise InputError(f"{path}: checkpoint optimizers {sorted(st['optimizers'])} do not match this "
                             f"trainer's {sorted(t.optimizers)} (entropy model given or missing?)")
        for k, o in t.optimizers.items():
            o.load_state_dict(st["optimizers"][k])
        t.growth.load_state(st["stats"])
        t._bounds_at_context = st.get("bounds_at_context", False)
        t.step, t._order, t.history = st["step"], st["order"], st["history"]
        t.rng.setstate(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        return t
