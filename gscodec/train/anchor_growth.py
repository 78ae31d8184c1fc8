"""Anchor growing and pruning (Scaffold-GS) as a strategy object, as train/densify.py is for
3DGS: the trainer calls `step_post_backward` after each backward pass; a method with another
growth rule is another strategy, not an edit of the trainer.

Growing (`grow`): per neural Gaussian slot the view-space gradient norm of its centre is
averaged over the steps it was rendered; slots seen often enough (> grow_every *
success_threshold / 2 times) and with average >= grow_grad * 2^i spawn, at level
i = 0..update_depth-1, a new anchor at the centre of their voxel of size voxel *
update_init_factor / update_hierarchy_factor^i, unless an anchor already occupies that voxel;
the new anchor takes the max of its parents' features, zero offsets, log(voxel) scaling. Each
level keeps a candidate with probability 1 - 0.5^(i+1) (Scaffold-GS's random thinning).
Pruning (`prune`): anchors seen more than grow_every * success_threshold times whose summed
(non-negative) opacity stays below prune_opacity per view, and anchors with every offset masked.
Statistics from stat_start; growing/pruning every grow_every steps in (grow_from, grow_until).
"""
from __future__ import annotations

import math

import torch

from gscodec.errors import InputError
from gscodec.models.scaffold import ANCHOR_PARAMS, ScaffoldModel
from gscodec.train.params import _swap

STATS = ("opacity_accum", "anchor_count", "grad_accum", "grad_count")


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


class AnchorGrowth:
    """Scaffold-GS's growing and pruning, with the fields of `cfg` (a ScaffoldConfig): stat_start,
    grow_from, grow_until, grow_every, grow_grad, success_threshold, prune_opacity,
    update_depth, update_init_factor, update_hierarchy_factor, max_anchors, init_mask_logit."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.last_grown = self.last_pruned = 0
        self.opacity_accum = self.anchor_count = self.grad_accum = self.grad_count = torch.zeros(0)

    def reset(self, model: ScaffoldModel) -> None:
        n, k = len(model), model.n_offsets
        self.opacity_accum, self.anchor_count = torch.zeros(n), torch.zeros(n)
        self.grad_accum, self.grad_count = torch.zeros(n * k), torch.zeros(n * k)

    def state(self) -> dict:
        return {k: getattr(self, k) for k in STATS}

    def load_state(self, state: dict) -> None:
        for k in STATS:
            setattr(self, k, state[k].clone())

    @torch.no_grad()
    def step_post_backward(self, model: ScaffoldModel, optimizers: dict, meta: dict, ng, step: int) -> None:
        """After the backward pass of 0-based `step`: accumulate, and grow/prune on schedule."""
        c, s = self.cfg, step + 1  # Scaffold-GS counts iterations from 1
        if c.stat_start <= step < c.grow_until:
            self.accumulate(meta, ng)
        if c.grow_from < s < c.grow_until and s % c.grow_every == 0:
            self.grow(model, optimizers)
            self.prune(model, optimizers)
            if s + c.grow_every >= c.grow_until:  # the last adjustment: statistics no longer needed
                self.reset(model)

    @torch.no_grad()
    def accumulate(self, meta: dict, ng) -> None:
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
    def grow(self, model: ScaffoldModel, optimizers: dict) -> None:
        c, m = self.cfg, model
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
            append_anchor_rows(m, optimizers, new_anchors, {
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
    def prune(self, model: ScaffoldModel, optimizers: dict) -> None:
        c, m = self.cfg, model
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
        keep_anchor_rows(m, optimizers, keep.to(m.anchors.device))
        k = m.n_offsets
        slot_keep = keep.repeat_interleave(k)
        self.grad_accum, self.grad_count = self.grad_accum[slot_keep], self.grad_count[slot_keep]
        self.opacity_accum, self.anchor_count = self.opacity_accum[keep], self.anchor_count[keep]
        self.last_pruned = int(prune.sum())


__all__ = ["AnchorGrowth", "append_anchor_rows", "keep_anchor_rows"]
