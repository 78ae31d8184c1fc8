"""Densification strategies: the original adaptive density control and 3DGS-MCMC.

A strategy sees each step's render meta (means2d with its gradient, radii) and the model,
and grows, prunes or relocates Gaussians. Their step fields are the
30k-step reference values (as in gsplat); a run scales them to its length by the rule of
gscodec.train.schedule (TrainConfig.schedule()).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from gscodec.models.gaussians import GaussianModel
from gscodec.render.project import quat_to_rotmat
from gscodec.train.params import append_rows, keep_rows, set_rows


@dataclass
class DefaultStrategy:
    """Adaptive density control (Kerbl et al. 2023): clone small / split large Gaussians whose
    view-space positional gradient is high, prune transparent or huge ones, reset opacity."""

    grow_grad2d: float = 0.0002
    grow_scale3d: float = 0.01  # relative to the scene extent
    prune_opacity: float = 0.005
    prune_scale3d: float = 0.1
    refine_start: int = 500
    refine_stop: int = 15_000
    refine_every: int = 100
    reset_every: int = 3000
    max_gaussians: int = 2_000_000
    # the step fields above are the 30k-step reference; TrainConfig.schedule() scales them
    SCHEDULE_POSITIONS: ClassVar[tuple[str, ...]] = ("refine_start", "refine_stop")
    SCHEDULE_INTERVALS: ClassVar[tuple[str, ...]] = ("refine_every", "reset_every")

    def __post_init__(self):
        self._grad = None
        self._count = None

    def step_post_backward(self, model: GaussianModel, optimizers: dict, meta: dict, step: int,
                           extent: float) -> None:
        self._accumulate(meta, len(model))
        if self.refine_start < step < self.refine_stop and step % self.refine_every == 0:
            self._refine(model, optimizers, step, extent)
        if step > 0 and step % self.reset_every == 0 and step < self.refine_stop:
            logit = math.log(2 * self.prune_opacity / (1 - 2 * self.prune_opacity))
            with torch.no_grad():
                model.opacity_logits.data.clamp_(max=logit)
            for st in optimizers["opacity_logits"].state.get(model.opacity_logits, {}).values():
                if torch.is_tensor(st) and st.ndim > 0:
                    st.zero_()

    @torch.no_grad()
    def _accumulate(self, meta: dict, n: int) -> None:
        """Sum the view-space positional gradient norm (in NDC units, as gsplat) per Gaussian."""
        means2d = meta["means2d"]
        if means2d.grad is None:
            return
        if self._grad is None or len(self._grad) != n:
            self._grad, self._count = torch.zeros(n), torch.zeros(n)
        g = means2d.grad.detach().clone()
        g[..., 0] *= meta["width"] / 2.0
        g[..., 1] *= meta["height"] / 2.0
        norms = g.norm(dim=-1).cpu()
        visible = (meta["radii"] > 0).reshape(*norms.shape, -1).all(-1).cpu()
        if meta.get("gaussian_ids") is not None:  # packed: one row per (camera, visible Gaussian)
            ids = meta["gaussian_ids"].cpu()[visible]
            self._grad.index_add_(0, ids, norms[visible])
            self._count.index_add_(0, ids, torch.ones(len(ids)))
        else:  # dense [C, N, 2]
            self._grad += (norms * visible).reshape(-1, n).sum(0)
            self._count += visible.reshape(-1, n).sum(0).float()

    @torch.no_grad()
    def _refine(self, model: GaussianModel, optimizers: dict, step: int, extent: float) -> None:
        if self._grad is None:
            return
        avg = self._grad / self._count.clamp_min(1)
        high = avg > self.grow_grad2d
        big = model.log_scales.exp().max(1).values > self.grow_scale3d * extent
        room = self.max_gaussians - len(model)
        clone, split = high & ~big, high & big
        if room <= 0:
            clone[:], split[:] = False, False
        n = len(model)
        # clone: copies of small Gaussians
        new = {name: p.data[clone] for name, p in model.params().items()}
        # split: two children sampled inside each large Gaussian, scaled down by 1.6
        idx = split.nonzero().flatten()
        if len(idx):
            scales = model.log_scales.data[idx].exp()
            rot = quat_to_rotmat(model.quats.data[idx])
            samples = torch.randn(2, len(idx), 3) * scales
            offsets = torch.einsum("nij,bnj->bni", rot, samples)
            children = {name: p.data[idx].repeat(2, *[1] * (p.ndim - 1)) for name, p in model.params().items()}
            children["means"] = (model.means.data[idx][None] + offsets).reshape(-1, 3)
            children["log_scales"] = (scales / 1.6).log().repeat(2, 1)
            new = {k: torch.cat([new[k], children[k]]) for k in new}
        append_rows(model, optimizers, new)
        keep = torch.ones(len(model), dtype=torch.bool)
        keep[:n][split] = False  # parents of splits go
        opacity = torch.sigmoid(model.opacity_logits.data)
        prune = opacity < self.prune_opacity
        if step > self.reset_every:
            prune |= model.log_scales.data.exp().max(1).values > self.prune_scale3d * extent
        keep &= ~prune
        keep_rows(model, optimizers, keep)
        self._grad = torch.zeros(len(model))
        self._count = torch.zeros(len(model))


@dataclass
class MCMCStrategy:
    """3DGS as MCMC (Kheradmand et al. 2024): relocate dead Gaussians onto live ones with
    moment-preserving opacity/scale, add up to a cap, and perturb positions with noise."""

    cap_max: int = 100_000
    noise_lr: float = 5e5
    refine_start: int = 500
    refine_stop: int = 25_000
    refine_every: int = 100
    min_opacity: float = 0.005
    grow_rate: float = 0.05
    opacity_reg: float = 0.01
    scale_reg: float = 0.01
    SCHEDULE_POSITIONS: ClassVar[tuple[str, ...]] = ("refine_start", "refine_stop")
    SCHEDULE_INTERVALS: ClassVar[tuple[str, ...]] = ("refine_every",)

    def regularization(self, model: GaussianModel) -> torch.Tensor:
        return (self.opacity_reg * torch.sigmoid(model.opacity_logits).mean()
                + self.scale_reg * model.log_scales.exp().mean())

    def step_post_backward(self, model: GaussianModel, optimizers: dict, meta: dict, step: int,
                           extent: float, lr_means: float = 1.6e-4) -> None:
        if self.refine_start < step < self.refine_stop and step % self.refine_every == 0:
            self._relocate(model, optimizers)
            self._add(model, optimizers)
        self._noise(model, lr_means)

    def _sample_alive(self, model: GaussianModel, n: int, alive: torch.Tensor) -> torch.Tensor:
        probs = torch.sigmoid(model.opacity_logits.data) * alive
        return torch.multinomial(probs / probs.sum(), n, replacement=True)

    @torch.no_grad()
    def _new_opacity_scale(self, model: GaussianModel, src: torch.Tensor):
        """Opacity and scale of each of `ratio` copies so the sum of copies matches the original."""
        ratio = torch.bincount(src, minlength=len(model))[src] + 1
        op = torch.sigmoid(model.opacity_logits.data[src])
        new_op = 1 - (1 - op).pow(1.0 / ratio)
        nmax = int(ratio.max())
        binom = torch.tensor([[math.comb(n, k) for k in range(nmax)] for n in range(nmax)], dtype=torch.float32)
        denom = torch.zeros_like(new_op)
        for i in range(1, nmax + 1):
            use = ratio >= i
            for k in range(i):
                term = binom[i - 1, k] * ((-1) ** k) / math.sqrt(k + 1) * new_op.pow(k + 1)
                denom += torch.where(use, term, torch.zeros_like(term))
        scale = (op / denom.clamp_min(1e-12))[:, None] * model.log_scales.data[src].exp()
        new_op = new_op.clamp(self.min_opacity, 1 - 1e-6)
        return torch.log(new_op / (1 - new_op)), scale.clamp_min(1e-12).log()

    @torch.no_grad()
    def _relocate(self, model: GaussianModel, optimizers: dict) -> None:
        dead = torch.sigmoid(model.opacity_logits.data) <= self.min_opacity
        n_dead = int(dead.sum())
        if n_dead == 0 or n_dead == len(model):
            return
        src = self._sample_alive(model, n_dead, ~dead)
        logit, log_scale = self._new_opacity_scale(model, src)
        set_rows(model, optimizers, src, {"opacity_logits": logit, "log_scales": log_scale})
        values = {name: p.data[src] for name, p in model.params().items()}
        set_rows(model, optimizers, dead.nonzero().flatten(), values)

    @torch.no_grad()
    def _add(self, model: GaussianModel, optimizers: dict) -> None:
        n_new = min(self.cap_max, int(len(model) * (1 + self.grow_rate))) - len(model)
        if n_new <= 0:
            return
        src = self._sample_alive(model, n_new, torch.ones(len(model), dtype=torch.bool))
        logit, log_scale = self._new_opacity_scale(model, src)
        set_rows(model, optimizers, src, {"opacity_logits": logit, "log_scales": log_scale})
        append_rows(model, optimizers, {name: p.data[src] for name, p in model.params().items()})

    @torch.no_grad()
    def _noise(self, model: GaussianModel, lr_means: float) -> None:
        op = torch.sigmoid(model.opacity_logits.data)
        # noise only on nearly transparent Gaussians: sigmoid(100 * ((1 - opacity) - 0.995))
        gate = torch.sigmoid(100 * ((1 - op) - 0.995))[:, None]
        rot = quat_to_rotmat(model.quats.data)
        s2 = model.log_scales.data.exp() ** 2
        noise = torch.randn_like(model.means.data)
        noise = torch.einsum("nij,nj->ni", rot, s2 * torch.einsum("nji,nj->ni", rot, noise))
        model.means.data += noise * gate * self.noise_lr * lr_means
