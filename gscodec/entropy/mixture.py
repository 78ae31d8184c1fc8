"""A mixture of light experts with a gate: MoP's prior (paper 000, Sec. 3.3) as a part any
anchor entropy model can use (MoP reads the hash-grid context with it; HEMGS and the
`combined` codec can use it as their hyperprior layer).

G(x) = sum_i w_i(x) ReLU(W_i x + b_i), w = softmax(gate(x)). The experts start from
different initialisations (the paper's "each initialised differently": the scheme and its
random draw differ per expert); the gate starts at zero, so the experts begin equally
weighted and it learns which one to trust where. One expert is exactly Linear + ReLU.
Both faces: torch for training, `run64` in float64 numpy through gscodec.entropy.replay for
coding (experts summed in a fixed order, so encoder and decoder agree bit for bit).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from gscodec.entropy import replay

INITS = (nn.init.kaiming_uniform_, nn.init.xavier_uniform_, nn.init.xavier_normal_, nn.init.kaiming_normal_,
         nn.init.orthogonal_)


class MixturePrior(nn.Module):
    """n experts (in_dim -> hidden, ReLU) mixed by a softmax gate on the same input."""

    def __init__(self, in_dim: int, hidden: int, n: int):
        super().__init__()
        self.in_dim, self.hidden, self.n = in_dim, hidden, n
        self.experts = nn.ModuleList()
        for i in range(n):
            layer = nn.Linear(in_dim, hidden)
            init = INITS[i % len(INITS)]
            init(layer.weight, a=math.sqrt(5)) if init is nn.init.kaiming_uniform_ else init(layer.weight)
            self.experts.append(nn.Sequential(layer, nn.ReLU()))
        self.gate = nn.Linear(in_dim, n) if n > 1 else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    @classmethod
    def from_layers(cls, experts: nn.ModuleList, gate: nn.Linear | None) -> MixturePrior:
        """The mixture around existing layers (no new draws): how models pickled before this
        module existed are upgraded on load."""
        m = cls.__new__(cls)
        nn.Module.__init__(m)
        first = experts[0][0]
        m.in_dim, m.hidden, m.n = first.in_features, first.out_features, len(experts)
        m.experts, m.gate = experts, gate
        return m

    @staticmethod
    def param_count(in_dim: int, hidden: int, n: int) -> int:
        return n * (in_dim * hidden + hidden) + (in_dim * n + n if n > 1 else 0)

    def tensors(self) -> list[torch.Tensor]:
        """Stream order: each expert's (weight, bias), then the gate's."""
        ts = [t for e in self.experts for t in (e[0].weight, e[0].bias)]
        return ts + ([self.gate.weight, self.gate.bias] if self.gate is not None else [])

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """[N, n] soft weights (sum to one)."""
        if self.gate is None:
            return x.new_ones(x.shape[0], 1)
        return torch.softmax(self.gate(x), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(x)
        return sum(w[:, i : i + 1] * e(x) for i, e in enumerate(self.experts))

    def run64(self, x: np.ndarray) -> np.ndarray:
        """forward() on the coding face (float64, fixed order)."""
        if self.gate is None:
            w = np.ones((x.shape[0], 1))
        else:
            z = replay.run(self.gate, x)
            z = np.exp(z - z.max(1, keepdims=True))
            w = z / z.sum(1, keepdims=True)
        g = np.zeros((x.shape[0], self.hidden))
        for i, e in enumerate(self.experts):  # fixed order
            g += w[:, i : i + 1] * replay.run(e, x)
        return g


def check_options(codec: str, experts, expert_hidden) -> None:
    """A codec's `experts` / `expert_hidden` options, refused in one line before training."""
    from gscodec.errors import InputError

    if not isinstance(experts, int) or isinstance(experts, bool) or not 1 <= experts <= 16:
        raise InputError(f"{codec}: experts must be an integer in 1..16, got {experts!r}")
    if expert_hidden is not None and (not isinstance(expert_hidden, int) or not 1 <= expert_hidden <= 4096):
        raise InputError(f"{codec}: expert_hidden must be an integer in 1..4096, got {expert_hidden!r}")


def rename_keys(state_dict: dict, prefix: str, renames: dict[str, str]) -> None:
    """In place: keys prefix+old... become prefix+new... (a state dict saved before a module moved)."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        rest = key[len(prefix):]
        for old, new in renames.items():
            if rest.startswith(old) and not rest.startswith(new):
                state_dict[prefix + new + rest[len(old):]] = state_dict.pop(key)
                break


__all__ = ["INITS", "MixturePrior", "check_options", "rename_keys"]
