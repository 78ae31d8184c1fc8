"""Adding and removing Gaussians during training while keeping Adam's state aligned.

One Adam per parameter tensor (as gsplat does), so a row change is applied to the parameter
and to its moment estimates together; new rows start with zero moments. Any model whose
`params()` lists its per-splat tensors by name works (3DGS, Spacetime Gaussians).
"""
from __future__ import annotations

import torch
from torch import nn

from gscodec.models.gaussians import GaussianModel


def make_optimizers(model: GaussianModel, lrs: dict[str, float]) -> dict[str, torch.optim.Adam]:
    return {name: torch.optim.Adam([{"params": [p], "lr": lrs[name], "name": name}], eps=1e-15)
            for name, p in model.params().items()}


def _swap(model: GaussianModel, optimizers: dict, name: str, new_data: torch.Tensor, state_fn) -> None:
    old = getattr(model, name)
    new = nn.Parameter(new_data)
    opt = optimizers[name]
    state = opt.state.pop(old, {})
    opt.state[new] = {k: (state_fn(v) if torch.is_tensor(v) and v.ndim > 0 else v) for k, v in state.items()}
    opt.param_groups[0]["params"] = [new]
    setattr(model, name, new)


@torch.no_grad()
def keep_rows(model: GaussianModel, optimizers: dict, keep: torch.Tensor) -> None:
    """Keep only Gaussians where `keep` is True."""
    for name in list(model.params()):
        _swap(model, optimizers, name, getattr(model, name).data[keep], lambda v: v[keep])


@torch.no_grad()
def append_rows(model: GaussianModel, optimizers: dict, new: dict[str, torch.Tensor]) -> None:
    """Append Gaussians given as a dict of tensors per parameter (moments start at zero)."""
    for name in list(model.params()):
        extra = new[name].to(getattr(model, name).dtype)
        _swap(model, optimizers, name, torch.cat([getattr(model, name).data, extra]),
              lambda v, e=extra: torch.cat([v, torch.zeros_like(e)]))


@torch.no_grad()
def set_rows(model: GaussianModel, optimizers: dict, index: torch.Tensor, values: dict[str, torch.Tensor],
             reset_moments: bool = True) -> None:
    """Overwrite the rows `index` of some parameters (MCMC relocation), zeroing their moments."""
    for name, v in values.items():
        getattr(model, name).data[index] = v.to(getattr(model, name).dtype)
        if reset_moments:
            for st in optimizers[name].state.get(getattr(model, name), {}).values():
                if torch.is_tensor(st) and st.ndim > 0:
                    st[index] = 0
