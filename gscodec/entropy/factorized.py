"""Factorized (fully factorized, per-channel non-parametric) entropy model.

Ballé et al. 2018 ("Variational image compression with a scale hyperprior", appendix 6.1),
as CompressAI's EntropyBottleneck: each channel's CDF is sigmoid(f(y)) where f is a small
monotone network (softplus-positive matrices, tanh gates with factors > -1), so any
unimodal or multimodal density can be learned with a few dozen parameters per channel.

Two faces: training -> likelihoods/bits of (noisy or STE-rounded) values;
coding -> `pmf_table(lo, hi)`: integer frequencies per channel, evaluated in float64 on
the CPU from the parameters alone, so encoder and decoder rebuild the same table and the
ANS coder's exact cost matches `bits()` at integer points.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gscodec.coding import ans
from gscodec.simulate.quantize import simulate_quantization, train_or_round

LIKELIHOOD_BOUND = 1e-9


class _LowerBound(torch.autograd.Function):
    """max(x, b) whose gradient still flows where it would push x up (CompressAI)."""

    @staticmethod
    def forward(ctx, x, b: float):
        ctx.save_for_backward(x)
        ctx.b = b
        return x.clamp_min(b)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x >= ctx.b) | (g < 0)).to(g.dtype), None


def lower_bound(x: torch.Tensor, b: float) -> torch.Tensor:
    return _LowerBound.apply(x, b)


class FactorizedEntropyModel(nn.Module):
    """Per-channel learned density over values y of shape [N, C].

    forward(y) -> (y_hat, bits): y_hat = y + U(-0.5, 0.5) in training, round(y) in eval;
    bits = total -log2 likelihood(y_hat) (a scalar, differentiable).
    """

    def __init__(self, channels: int, filters=(3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        dims = (1,) + self.filters + (1,)
        scale = float(init_scale) ** (1.0 / (len(dims) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(dims) - 1):
            init = float(np.log(np.expm1(1.0 / scale / dims[i + 1])))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    # ---- the density ---------------------------------------------------------------------
    def _logits(self, x: torch.Tensor, params=None) -> torch.Tensor:
        """Cumulative logits f(x) for x of shape [C, 1, M] -> [C, 1, M]."""
        mats, biases, factors = params if params is not None else (self.matrices, self.biases, self.factors)
        logits = x
        for i, (m, b) in enumerate(zip(mats, biases)):
            logits = torch.matmul(F.softplus(m), logits) + b
            if i < len(factors):
                logits = logits + torch.tanh(factors[i]) * torch.tanh(logits)
        return logits

    @staticmethod
    def _bin_mass(lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """sigmoid(upper) - sigmoid(lower), computed on the side of the smaller tail."""
        sign = -torch.sign(lower + upper).detach()
        return (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """P(bin of width 1 around y) = CDF(y+0.5) - CDF(y-0.5), floored at 1e-9; [N, C]."""
        if y.ndim != 2 or y.shape[1] != self.channels:
            raise ValueError(f"expected values of shape [N, {self.channels}], got {list(y.shape)}")
        v = y.t().unsqueeze(1)  # [C, 1, N]
        p = self._bin_mass(self._logits(v - 0.5), self._logits(v + 0.5))
        return lower_bound(p.squeeze(1).t(), LIKELIHOOD_BOUND)

    def bits(self, y: torch.Tensor) -> torch.Tensor:
        """Total -log2 likelihood of y (scalar)."""
        return -torch.log2(self.likelihood(y)).sum()

    def forward(self, y: torch.Tensor):
        y_hat = simulate_quantization(y, 1.0, train_or_round(self.training))
        return y_hat, self.bits(y_hat)

    # ---- coding face ---------------------------------------------------------------------
    def _channel_bounds(self, v, name: str) -> np.ndarray:
        a = np.asarray(v, dtype=np.int64).reshape(-1)
        if a.size == 1:
            a = np.repeat(a, self.channels)
        if a.size != self.channels:
            raise ValueError(f"{name} must be one integer or one per channel ({self.channels})")
        return a

    @torch.no_grad()
    def pmf_table(self, lo, hi, total: int = 1 << 24) -> list[np.ndarray]:
        """Integer frequencies (uint32) of symbols lo..hi for each channel (lo/hi: int or
        per-channel ints), evaluated in float64 on the CPU; table j codes y[:, j] - lo[j].
        The mass outside [lo, hi] is dropped (the table is renormalized), so choose a range
        that covers the data. total=2^24 matches the coder's precision."""
        lo, hi = self._channel_bounds(lo, "lo"), self._channel_bounds(hi, "hi")
        if np.any(hi < lo):
            raise ValueError("pmf_table needs hi >= lo")
        params = tuple([p.detach().to("cpu", torch.float64) for p in group]
                       for group in (self.matrices, self.biases, self.factors))
        width = int((hi - lo).max()) + 1
        k = torch.arange(width, dtype=torch.float64)[None, None, :] + torch.as_tensor(lo, dtype=torch.float64)[:, None, None]
        mass = self._bin_mass(self._logits(k - 0.5, params), self._logits(k + 0.5, params)).squeeze(1).numpy()
        # snap to a 2^-40 grid: a last-ulp difference between machines' float64 maths then
        # changes the integer table only if it straddles a grid point (docs/determinism.md)
        mass = np.round(mass * 2.0**40) / 2.0**40
        return [ans.quantize_pmf(np.maximum(mass[j, : hi[j] - lo[j] + 1], LIKELIHOOD_BOUND), total)
                for j in range(self.channels)]

    def coded_bits(self, y_int, lo, hi) -> float:
        """Exact ANS model cost of integer values y_int [N, C] under pmf_table(lo, hi)."""
        y = np.asarray(y_int, dtype=np.int64)
        lo_a = self._channel_bounds(lo, "lo")
        tables = self.pmf_table(lo, hi)
        return sum(ans.estimate_bits_categorical(y[:, j] - lo_a[j], tables[j]) for j in range(self.channels))

    def encode(self, y_int, lo, hi) -> list[bytes]:
        """One ANS payload per channel (the decoder rebuilds the same tables from the weights)."""
        y = np.asarray(y_int, dtype=np.int64)
        lo_a = self._channel_bounds(lo, "lo")
        tables = self.pmf_table(lo, hi)
        return [ans.encode_categorical(y[:, j] - lo_a[j], tables[j]) for j in range(self.channels)]

    def decode(self, payloads: list[bytes], n: int, lo, hi) -> np.ndarray:
        lo_a = self._channel_bounds(lo, "lo")
        tables = self.pmf_table(lo, hi)
        cols = [ans.decode_categorical(payloads[j], tables[j], n).astype(np.int64) + lo_a[j] for j in range(self.channels)]
        return np.stack(cols, 1) if cols else np.zeros((n, 0), np.int64)
