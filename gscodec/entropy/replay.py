"""One deterministic float64 CPU replay of an entropy model's networks, for the coding face.

Why: an ANS decoder fails silently when its probabilities differ from the encoder's by one
ulp, and BLAS results depend on blocking and thread count. So the networks that give the
coder its parameters are evaluated here, on both sides, with every layer an IEEE operation
on whole arrays in a fixed order: a linear layer is accumulated input column by input column
(no BLAS), activations are numpy's float64 functions. A model's coding face calls `run`
on its own torch modules; no model writes its layers a second time by hand.

Layers understood: nn.Linear, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Softplus (torch's threshold),
nn.Identity, and nn.Sequential of these. Anything else is refused, not approximated.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def dense64(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """x @ w.T + b in float64, summed in input-column order."""
    out = np.zeros((x.shape[0], w.shape[0]), np.float64)
    if b is not None:
        out[:] = b[None, :]
    for j in range(w.shape[1]):
        out += x[:, j : j + 1] * w[None, :, j]
    return out


def softplus64(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """torch's softplus in float64 numpy: linear above threshold / beta."""
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


def _weights(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().to(torch.float64).numpy()


def run(module: nn.Module, x) -> np.ndarray:
    """module(x) in float64 numpy by the fixed-order path (x: [N, in] array or tensor)."""
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, np.float64)
    layers = list(module) if isinstance(module, nn.Sequential) else [module]
    for layer in layers:
        if isinstance(layer, nn.Sequential):
            a = run(layer, a)
        elif isinstance(layer, nn.Linear):
            a = dense64(a, _weights(layer.weight), _weights(layer.bias))
        elif isinstance(layer, nn.ReLU):
            a = np.maximum(a, 0.0)
        elif isinstance(layer, nn.Tanh):
            a = np.tanh(a)
        elif isinstance(layer, nn.Sigmoid):
            a = 1.0 / (1.0 + np.exp(-a))
        elif isinstance(layer, nn.Softplus):
            a = softplus64(a, float(layer.beta), float(layer.threshold))
        elif isinstance(layer, nn.Identity):
            pass
        else:
            raise TypeError(f"the float64 replay has no rule for {type(layer).__name__}; add one here")
    return a


__all__ = ["dense64", "run", "softplus64"]
