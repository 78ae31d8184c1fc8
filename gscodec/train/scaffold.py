"""Scaffold-GS training with HAC's schedule: plain, then quantization noise at fixed steps, then
hash-grid context + adaptive steps + rate loss; anchor growing and pruning as Scaffold-GS.

Schedule (HAC, 30k iterations; `ScaffoldConfig.scaled(n)` rescales every step field):
  [0, plain_until)           plain Scaffold-GS
  [plain_until, noise_until) uniform noise at the fixed steps Q0 (feature 1, scaling 1e-3, offsets 0.2)
  [noise_until, iterations)  entropy model in "context" mode: adaptive Q, loss += lambda_rate * rate
  statistics from stat_start; growing/pruning every grow_every steps in (grow_from, grow_until).
Without an entropy model the noise (and context) phases add the same fixed-step noise inline
and there is no rate term, so the model still learns to survive quantization.

Growing (Scaffold-GS, `_grow`): per neural Gaussian slot the view-space gradient norm of its
centre is averaged over the steps it was rendered; slots seen often enough
(> grow_every * success_threshold / 2 times) and with average >= grow_grad * 2^i spawn, at
level i = 0..update_depth-1, a new anchor at the centre of their voxel of size
voxel * update_init_factor / update_hierarchy_factor^i, unless an anchor already occupies that
voxel; the new anchor takes the max of its parents' features, zero offsets, log(voxel) scaling.
Each level keeps a candidate with probability 1 - 0.5^(i+1) (Scaffold-GS's random thinning).
Pruning: anchors seen more than grow_every * success_threshold times whose summed
(non-negative) opacity stays below prune_opacity per view, and anchors with every offset masked.
"""
from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from gscodec.data.dataset import Dataset
from gscodec.errors import InputError
from gscodec.models.scaffold import ANCHOR_PARAMS, MLP_NAMES, ScaffoldModel
from gscodec.scene.anchors import AnchorScene
from gscodec.simulate.quantize import simulate_quantization, train_or_round
from gscodec.train.params import _swap
from gscodec.utils.io import atomic_open

HAC_ITERATIONS = 30_000
SCHEDULE_FIELDS = ("plain_until", "noise_until", "stat_start", "grow_from", "grow_until")


@dataclass
class ScaffoldConfig:
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

    def check_rate_phase(self, codec: str) -> ScaffoldConfig:
        """Refuse, before training, a schedule whose context phase (entropy model + rate, what
        codec `codec` codes with) would never begin."""
        if self.noise_until >= self.iterations:
            raise InputError(f"{codec}: the entropy model's phase starts at step {self.noise_until} but training ends "
                             f"at step {self.iterations}, so it would never be trained: raise --iterations or set "
                             f"noise_until below {self.iterations}")
        return self

    def phase(self, step: int) -> str:
        """'plain', 'noise' or 'context' for a 0-based step."""
        return "plain" if step < self.plain_until else "noise" if step < self.noise_until else "context"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ScaffoldConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown Scaffold-GS training config keys: {', '.join(sorted(unknown))}")
        return cls(**d).validate()


def _exp_lr(step: int, total: int, lr0: float, lr1: float) -> float:
    t = min(max(step, 0) / max(total, 1), 1.0)
    if lr0 <= 0 or lr1 <= 0:
        return lr0 * (1 - t) + lr1 * t
    return math.exp((1 - t) * math.log(lr0) + t * math.log(lr1))


# ---- per-anchor rows and their Adam moments -------------------------------------------------
@torch.no_grad()
def keep_anchor_rows(model: ScaffoldModel, optimizers: dict, keep: torch.Tensor) -> None:
    """Keep the anchors where `keep` is True: parameters, their Adam moments and the buffer."""
    for name in ANCHOR_PARAMS:
        _swap(model, optimizers, name, getattr(model, name).data[keep], lambda v: v[keep])
    model.anchors = model.anchors[keep]


@torch.no_grad()
def append_anchor_rows(model: ScaffoldModel, optimizers: dict, anchors: torch.Tensor,
                       new: dict[str, torch.Tensor]) -> None:
    """Append anchors (positions + one tensor per anchor parameter); moments start at zero."""
    for name in ANCHOR_PARAMS:
        extra = new[name].to(getattr(model, name))
        _swap(model, optimizers, name, torch.cat([getattr(model, name).data, extra]),
              lambda v, e=extra: torch.cat([v, torch.zeros_like(e)]))
    model.anchors = torch.cat([model.anchors, anchors.to(model.anchors)])


def _keys(coords: torch.Tensor) -> torch.Tensor:
    """Integer voxel coordinates [M,3] -> one int64 key each (21 bits per axis)."""
    c = coords.long() + (1 << 20)
    if (c < 0).any() or (c >= (1 << 21)).any():
        raise InputError("anchor growing: voxel coordinates out of range (voxel size too small for the scene)")
    return (c[:, 0] << 42) | (c[:, 1] << 21) | c[:, 2]


class ScaffoldTrainer:
    """One camera per step: L1 + λ·D-SSIM + mask + volume (+ λ_rate · rate in the context phase)."""

    def __init__(self, dataset: Dataset, cfg: ScaffoldConfig, out_dir: str | Path | None = None,
                 entropy_model: torch.nn.Module | None = None, model: ScaffoldModel | None = None):
        self.ds = dataset.check()
        self.cfg = cfg.validate()
        self.out = Path(out_dir) if out_dir else None
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        self.extent = dataset.scene_extent()
        self.model = model or ScaffoldModel.from_points(
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
        self.step = 0
        self.history: list[dict] = []
        self.train_ids = dataset.train_indices
        if not self.train_ids:
            raise InputError("the dataset has no training views")
        self._order: list[int] = []
        self.bg = tuple(float(b) for b in dataset.background)
        self._reset_stats()

    # ---- set-up --------------------------------------------------------------------------
    def _make_optimizers(self) -> dict[str, torch.optim.Adam]:
        m, c = self.model, self.cfg
        lr0 = {"features": c.lr_features, "scaling": c.lr_scaling, "offsets": c.lr_offsets * self.extent,
               "mask_logits": c.lr_mask}
        opts = {n: torch.optim.Adam([{"params": [p], "lr": lr0[n], "name": n}], eps=1e-15)
                for n, p in m.anchor_params().items()}
        for n in MLP_NAMES:
            opts[n] = torch.optim.Adam(getattr(m, n).parameters(), lr=getattr(c, "lr_" + n), eps=1e-15)
        if self.entropy_model is not None and any(p.requires_grad for p in self.entropy_model.parameters()):
            opts["entropy"] = torch.optim.Adam(self.entropy_model.parameters(), lr=c.lr_entropy, eps=1e-15)
        return opts

    def _update_lrs(self) -> None:
        c, s, T = self.cfg, self.step, self.cfg.iterations
        lrs = {"offsets": _exp_lr(s, T, c.lr_offsets, c.lr_offsets_final) * self.extent,
               "mask_logits": _exp_lr(s, T, c.lr_mask, c.lr_mask_final)}
        for n in MLP_NAMES:
            lrs[n] = _exp_lr(s, T, getattr(c, "lr_" + n), getattr(c, f"lr_{n}_final"))
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

    def _reset_stats(self) -> None:
        n, k = len(self.model), self.model.n_offsets
        self.opacity_accum = torch.zeros(n)
        self.anchor_count = torch.zeros(n)
        self.grad_accum = torch.zeros(n * k)
        self.grad_count = torch.zeros(n * k)

    def _next_camera(self) -> int:
        if not self._order:
            self._order = list(self.train_ids)
            self.rng.shuffle(self._order)
        return self._order.pop()

    def phase(self, step: int | None = None) -> str:
        return self.cfg.phase(self.step if step is None else step)

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
        from gscodec.eval.metrics import ssim

        cfg, m = self.cfg, self.model
        mode = self.phase()
        if mode == "context" and self.entropy_model is not None and not getattr(self, "_bounds_at_context", False):
            self._set_bounds()  # anchors grew since the start: span them as they are now
            self._bounds_at_context = True
        m.train()
        if self.entropy_model is not None:
            self.entropy_model.train()
        self._update_lrs()
        idx = self._next_camera()
        cam = self.ds.cameras[idx]
        gt = self.ds.image(idx).to(self.device)
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
        if rate is not None and cfg.lambda_rate:
            loss = loss + cfg.lambda_rate * rate
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

    # ---- growing and pruning -------------------------------------------------------------
    @torch.no_grad()
    def _post_backward(self, meta: dict, ng) -> None:
        c, s = self.cfg, self.step + 1  # Scaffold-GS counts iterations from 1
        if c.stat_start <= self.step < c.grow_until:
            self._accumulate(meta, ng)
        if c.grow_from < s < c.grow_until and s % c.grow_every == 0:
            self._adjust_anchors()
            if s + c.grow_every >= c.grow_until:  # the last adjustment: statistics no longer needed
                self._reset_stats()

    @torch.no_grad()
    def _accumulate(self, meta: dict, ng) -> None:
        ids = ng.anchor_ids.cpu()
        self.opacity_accum.index_add_(0, ids, ng.opacity_all.detach().clamp_min(0).sum(1).cpu())
        self.anchor_count.index_add_(0, ids, torch.ones(len(ids)))
        m2 = meta.get("means2d")
        if m2 is None or m2.grad is None:
            return
        g = m2.grad.detach().reshape(-1, 2).clone()
        g[:, 0] *= meta["width"] / 2.0
        g[:, 1] *= meta["height"] / 2.0
        radii = meta["radii"].reshape(len(g), -1)
        seen = (radii > 0).all(-1).cpu()
        slots = ng.slots.cpu()[seen]
        self.grad_accum.index_add_(0, slots, g.norm(dim=-1).cpu()[seen])
        self.grad_count.index_add_(0, slots, torch.ones(len(slots)))

    @torch.no_grad()
    def _adjust_anchors(self) -> None:
        self._grow()
        self._prune()

    @torch.no_grad()
    def _grow(self) -> None:
        c, m = self.cfg, self.model
        n0, k = len(m), m.n_offsets
        grads = self.grad_accum / self.grad_count.clamp_min(1)
        often = self.grad_count > c.grow_every * c.success_threshold * 0.5
        dev = m.anchors.device
        centres = (m.anchors[:, None] + m.offsets * m.scaling[:, None, :3].exp()).reshape(-1, 3)
        parent_feat = m.features.data
        added = 0
        for i in range(c.update_depth):
            room = c.max_anchors - len(m)
            if room <= 0:
                break
            thr = c.grow_grad * (c.update_hierarchy_factor // 2) ** i
            cand = (grads >= thr) & often & (torch.rand(n0 * k) > 0.5 ** (i + 1))
            if not cand.any():
                continue
            size = m.voxel_size * max(c.update_init_factor // c.update_hierarchy_factor ** i, 1)
            cand_dev = cand.to(dev)
            coords = torch.round(centres[cand_dev] / size).long()
            uniq, inv = torch.unique(coords, dim=0, return_inverse=True)
            occupied = torch.isin(_keys(uniq), _keys(torch.round(m.anchors / size).long()))
            fresh = torch.nonzero(~occupied, as_tuple=True)[0]
            if len(fresh) == 0:
                continue
            fresh = fresh[:room]
            feats = parent_feat.repeat_interleave(k, 0)[cand_dev]
            pooled = torch.full((len(uniq), m.feat_dim), -torch.inf, device=dev)
            pooled.scatter_reduce_(0, inv[:, None].expand(-1, m.feat_dim), feats, reduce="amax")
            nf = len(fresh)
            new_anchors = uniq[fresh].to(torch.float32) * size
            append_anchor_rows(m, self.optimizers, new_anchors, {
                "features": pooled[fresh],
                "scaling": torch.full((nf, 6), math.log(size), device=dev),
                "offsets": torch.zeros(nf, k, 3, device=dev),
                "mask_logits": torch.full((nf, k), c.init_mask_logit, device=dev)})
            added += nf
        # statistics: the slots just judged start again; the new anchors start at zero
        self.grad_accum[often] = 0
        self.grad_count[often] = 0
        if added:
            self.grad_accum = torch.cat([self.grad_accum, torch.zeros(added * k)])
            self.grad_count = torch.cat([self.grad_count, torch.zeros(added * k)])
            self.opacity_accum = torch.cat([self.opacity_accum, torch.zeros(added)])
            self.anchor_count = torch.cat([self.anchor_count, torch.zeros(added)])
        self.last_grown = added

    @torch.no_grad()
    def _prune(self) -> None:
        c, m = self.cfg, self.model
        judged = self.anchor_count > c.grow_every * c.success_threshold
        faint = (self.opacity_accum < c.prune_opacity * self.anchor_count) & judged
        all_masked = ~(torch.sigmoid(m.mask_logits) > m.mask_threshold).any(1).cpu()
        prune = faint | all_masked
        self.opacity_accum[judged] = 0
        self.anchor_count[judged] = 0
        self.last_pruned = 0
        if not prune.any() or prune.all():
            return
        keep = ~prune
        keep_anchor_rows(m, self.optimizers, keep.to(m.anchors.device))
        k = m.n_offsets
        slot_keep = keep.repeat_interleave(k)
        self.grad_accum, self.grad_count = self.grad_accum[slot_keep], self.grad_count[slot_keep]
        self.opacity_accum, self.anchor_count = self.opacity_accum[keep], self.anchor_count[keep]
        self.last_pruned = int(prune.sum())

    # ---- evaluation ----------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, indices: list[int] | None = None, quantized: bool = True) -> dict:
        """Test-view PSNR/SSIM of the model as it would decode now (rounded attributes from
        the noise phase on; quantized=False: the raw attributes), and the model's estimated
        bits of all anchors when an entropy model is there."""
        from gscodec.eval.metrics import psnr, ssim

        indices = self.ds.test_indices if indices is None else indices
        if not indices:
            return {}
        m, mode = self.model, self.phase() if quantized else "plain"
        m.eval()
        if self.entropy_model is not None:
            self.entropy_model.eval()
        feats, scal, offs, _, bits = self.simulate(mode)
        ps, ss = [], []
        for i in indices:
            img = m.render(self.ds.cameras[i], self.bg, self.cfg.backend, features=feats, scaling=scal,
                           offsets=offs).image.clamp(0, 1)
            gt = self.ds.image(i).to(img.device)
            ps.append(float(psnr(img, gt)))
            ss.append(float(ssim(img, gt)))
        m.train()
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
            "model": {"anchors": m.anchors.detach().cpu(),
                      **{k: v.detach().cpu() for k, v in m.anchor_params().items()},
                      "decoder_state": {k: v.cpu() for k, v in m.decoder_state().items()},
                      "decoder_config": m.decoder_config()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "entropy_model": self.entropy_model,
            "entropy_state": None if self.entropy_model is None else
            {k: v.detach().cpu() for k, v in self.entropy_model.state_dict().items()},
            "bounds_at_context": getattr(self, "_bounds_at_context", False),
            "stats": {"opacity_accum": self.opacity_accum, "anchor_count": self.anchor_count,
                      "grad_accum": self.grad_accum, "grad_count": self.grad_count},
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
        if em is not None and st.get("entropy_state") is not None:
            em.load_state_dict(st["entropy_state"])
        t = cls(dataset, ScaffoldConfig.from_dict(st["config"]), out_dir, entropy_model=em, model=model)
        if em is not None and st.get("entropy_state") is not None:
            em.load_state_dict(st["entropy_state"])  # the constructor set bounds; restore them
        if set(t.optimizers) != set(st["optimizers"]):
            raise InputError(f"{path}: checkpoint optimizers {sorted(st['optimizers'])} do not match this "
                             f"trainer's {sorted(t.optimizers)} (entropy model given or missing?)")
        for k, o in t.optimizers.items():
            o.load_state_dict(st["optimizers"][k])
        for k, v in st["stats"].items():
            setattr(t, k, v.clone())
        t._bounds_at_context = st.get("bounds_at_context", False)
        t.step, t._order, t.history = st["step"], st["order"], st["history"]
        t.rng.setstate(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        return t
