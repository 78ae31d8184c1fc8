"""Conditional Gaussian entropy model with a quantization step (HAC's anchor attribute model).

Why: HAC codes each anchor attribute y on a grid of step Q (Q itself predicted per anchor)
with a Gaussian whose mean and scale come from the hash-grid context MLP. Training uses
the bin mass Phi((y-mu+Q/2)/s) - Phi((y-mu-Q/2)/s), floored at ans.TAIL_FLOOR = 2^-24.
HAC floors at 1e-6; we floor where the coder does (the least probability it gives a symbol),
so a tail symbol costs in training what it costs in the file: with HAC's floor, symbols
between 2^-24 and 1e-6 were charged ~20 bits but paid up to 24 (+0.6% on beer's scaling). At coding
time the same bin is a unit bin on the integer grid k = y/Q under N(mu/Q, s/Q), which is
what `ans.encode_gaussian` codes; those parameters are computed in float64 on the CPU
(docs/determinism.md). The coder clamps s/Q to >= 1/64 (`ans.STD_MIN`) and snaps
mu/Q, s/Q to multiples of 2^-16: below that clamp its cost departs from bits() (there the
bin mass is ~1 either way, so the difference is a fraction of a bit per symbol at most
when the mean sits mid-bin).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from gscodec.coding import ans
from gscodec.entropy.factorized import lower_bound
from gscodec.simulate.quantize import simulate_quantization, train_or_round

LIKELIHOOD_BOUND = ans.TAIL_FLOOR
SCALE_MIN = 1e-9


def _phi(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2.0))


def _as_np64(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().to("cpu", torch.float64).numpy()
    return np.asarray(t, dtype=np.float64)


def laplace_likelihood(y, mean, scale, q) -> torch.Tensor:
    """Bin mass of a Laplace(mean, b=scale) over [y - q/2, y + q/2], floored as the Gaussian's:
    T(v - q/2) - T(v + q/2) with v = |y - mean| and T(a) = P(X - mean > a) (exact in the tails)."""
    s = scale.clamp_min(SCALE_MIN) if isinstance(scale, torch.Tensor) else max(float(scale), SCALE_MIN)
    v = (y - mean).abs()

    def tail(a):
        return torch.where(a >= 0, 0.5 * torch.exp(-a.clamp_min(0) / s), 1 - 0.5 * torch.exp(a.clamp_max(0) / s))
    return lower_bound(tail(v - q / 2) - tail(v + q / 2), LIKELIHOOD_BOUND)


def gaussian_bin_mass(y, mean, scale, q) -> torch.Tensor:
    """Unfloored mass of N(mean, scale) over [y - q/2, y + q/2], evaluated on the upper side
    (symmetric), where erfc keeps the tail accurate."""
    s = scale.clamp_min(SCALE_MIN) if isinstance(scale, torch.Tensor) else max(float(scale), SCALE_MIN)
    v = (y - mean).abs()
    return _phi(-(v - q / 2) / s) - _phi(-(v + q / 2) / s)


def mixture_likelihood(y, weights, mean, scale, q) -> torch.Tensor:
    """Bin mass of a Gaussian mixture over [y - q/2, y + q/2]: weights, mean, scale carry the
    components in a trailing dim (weights summing to 1 over it), y and q broadcast without
    it; floored once, after mixing, as the coder does (gscodec.coding.mixture)."""
    y, q = y.unsqueeze(-1), (q.unsqueeze(-1) if isinstance(q, torch.Tensor) else q)
    return lower_bound((weights * gaussian_bin_mass(y, mean, scale, q)).sum(-1), LIKELIHOOD_BOUND)


def bin_likelihood(family: str, y, mean, scale, q, weights=None) -> torch.Tensor:
    """The training formula of a coder family (gscodec.coding.ans.FAMILIES)."""
    if family == "gaussian":
        return GaussianConditional().likelihood(y, mean, scale, q)
    if family == "laplace":
        return laplace_likelihood(y, mean, scale, q)
    if family == "gaussian-mixture":
        return mixture_likelihood(y, weights, mean, scale, q)
    raise ValueError(f"unknown distribution family {family!r}")


class GaussianConditional(nn.Module):
    """forward(y, mean, scale, Q) -> (y_hat, bits): y_hat = y + U(-Q/2, Q/2) in training,
    round(y/Q)*Q in eval; bits = total -log2 likelihood(y_hat). All arguments broadcast."""

    def likelihood(self, y, mean, scale, q) -> torch.Tensor:
        return lower_bound(gaussian_bin_mass(y, mean, scale, q), LIKELIHOOD_BOUND)

    def bits(self, y, mean, scale, q) -> torch.Tensor:
        return -torch.log2(self.likelihood(y, mean, scale, q)).sum()

    def forward(self, y, mean, scale, q):
        y_hat = simulate_quantization(y, q, train_or_round(self.training))
        return y_hat, self.bits(y_hat, mean, scale, q)

    # ---- coding face ---------------------------------------------------------------------
    @staticmethod
    def symbols(y, q) -> np.ndarray:
        """Integer grid indices round(y/Q), computed in float64 on the CPU (flat int64)."""
        y64, q64 = np.broadcast_arrays(_as_np64(y), _as_np64(q))
        return np.round(y64 / q64).astype(np.int64).reshape(-1)

    @staticmethod
    def coder_params(mean, scale, q) -> tuple[np.ndarray, np.ndarray]:
        """(mean/Q, scale/Q) as flat float64 arrays: the unit-grid Gaussian ans codes with.
        Encoder and decoder must call this with the same inputs (same code path)."""
        m, s, q64 = np.broadcast_arrays(_as_np64(mean), _as_np64(scale), _as_np64(q))
        s = np.maximum(s, SCALE_MIN)
        return (m / q64).reshape(-1), (s / q64).reshape(-1)

    def coded_bits(self, symbols, mean, scale, q, lo: int, hi: int) -> float:
        """The ANS model cost of integer symbols under coder_params(mean, scale, Q)."""
        m, s = self.coder_params(mean, scale, q)
        return ans.estimate_bits_gaussian(symbols, m, s, lo, hi)

    def encode(self, symbols, mean, scale, q, lo: int, hi: int) -> bytes:
        m, s = self.coder_params(mean, scale, q)
        return ans.encode_gaussian(symbols, m, s, lo, hi)

    def decode(self, data: bytes, mean, scale, q, lo: int, hi: int) -> np.ndarray:
        m, s = self.coder_params(mean, scale, q)
        return ans.decode_gaussian(data, m, s, lo, hi).astype(np.int64)
