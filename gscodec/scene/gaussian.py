"""GaussianScene: a 3DGS scene as plain tensors in the INRIA stored form.

Attributes are kept exactly as a trained .ply stores them (log-scales, opacity logits,
quaternions w,x,y,z, SH DC and rest) so that a PLY round trip is bit-exact; the renderer
applies exp / sigmoid / normalisation itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from gscodec.errors import InputError


def sh_coeffs_for_degree(degree: int) -> int:
    """Number of SH coefficients per colour channel, DC included."""
    return (degree + 1) ** 2


def sh_degree_for_coeffs(n_coeffs: int) -> int:
    """Inverse of sh_coeffs_for_degree; raises for counts that are not (d+1)^2 with d<=3."""
    for d in range(4):
        if sh_coeffs_for_degree(d) == n_coeffs:
            return d
    raise InputError(f"{n_coeffs} SH coefficients per channel is not (d+1)^2 for a degree d in 0..3")


@dataclass
class GaussianScene:
    """N Gaussians. Shapes: means [N,3], quats [N,4] (w,x,y,z), log_scales [N,3],
    opacity_logits [N], sh_dc [N,3], sh_rest [N,K,3] with K = (degree+1)^2 - 1.

    `extras` holds per-Gaussian properties of the source file that gscodec does not model
    (kept so nothing is silently dropped; codecs report whether they keep them).
    """

    means: torch.Tensor
    quats: torch.Tensor
    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    sh_dc: torch.Tensor
    sh_rest: torch.Tensor
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    # a trained scene may carry the entropy model it was trained with (e.g. the compression
    # simulation's learned distributions) to the encoder; decoded and loaded scenes have None
    entropy_model: object = field(default=None, repr=False, compare=False)

    TENSORS = ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest")

    # ---- derived views -------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def num_gaussians(self) -> int:
        return len(self)

    @property
    def sh_degree(self) -> int:
        return sh_degree_for_coeffs(self.sh_rest.shape[1] + 1)

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def scales(self) -> torch.Tensor:
        return torch.exp(self.log_scales)

    @property
    def opacities(self) -> torch.Tensor:
        return torch.sigmoid(self.opacity_logits)

    @property
    def unit_quats(self) -> torch.Tensor:
        return torch.nn.functional.normalize(self.quats, dim=-1)

    @property
    def sh(self) -> torch.Tensor:
        """All SH coefficients [N, (d+1)^2, 3], DC first (gsplat's `colors` layout)."""
        return torch.cat([self.sh_dc[:, None, :], self.sh_rest], dim=1)

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        if len(self) == 0:
            z = torch.zeros(3, dtype=self.means.dtype, device=self.device)
            return z, z
        return self.means.min(0).values, self.means.max(0).values

    # ---- construction / transforms ---------------------------------------------------
    @classmethod
    def empty(cls, sh_degree: int = 0, dtype=torch.float32) -> "GaussianScene":
        k = sh_coeffs_for_degree(sh_degree) - 1
        z = lambda *s: torch.zeros(*s, dtype=dtype)  # noqa: E731
        return cls(z(0, 3), z(0, 4), z(0, 3), z(0), z(0, 3), z(0, k, 3))

    @classmethod
    def random(cls, n: int, sh_degree: int = 0, seed: int = 0, extent: float = 1.0) -> "GaussianScene":
        """A random scene with plausible trained statistics (for tests and benchmarks)."""
        g = torch.Generator().manual_seed(seed)
        k = sh_coeffs_for_degree(sh_degree) - 1
        quats = torch.randn(n, 4, generator=g)
        quats = quats / quats.norm(dim=-1, keepdim=True)
        return cls(
            means=(torch.rand(n, 3, generator=g) * 2 - 1) * extent,
            quats=quats,
            log_scales=torch.randn(n, 3, generator=g) * 0.5 + np.log(0.02 * extent),
            opacity_logits=torch.randn(n, generator=g) * 2.0,
            sh_dc=torch.randn(n, 3, generator=g) * 0.8,
            sh_rest=torch.randn(n, k, 3, generator=g) * 0.05,
        )

    def to(self, device=None, dtype=None) -> "GaussianScene":
        kw = {name: getattr(self, name).to(device=device, dtype=dtype) for name in self.TENSORS}
        return replace(self, **kw)

    def subset(self, index: torch.Tensor | np.ndarray) -> "GaussianScene":
        """Gaussians selected by a boolean mask or an index array (extras follow)."""
        idx = torch.as_tensor(index)
        kw = {name: getattr(self, name)[idx.to(self.device)] for name in self.TENSORS}
        idx_np = idx.cpu().numpy()
        return replace(self, extras={k: v[idx_np] for k, v in self.extras.items()}, **kw)

    def with_sh_degree(self, degree: int) -> "GaussianScene":
        """Truncate (or zero-pad) the SH bands to `degree`."""
        k = sh_coeffs_for_degree(degree) - 1
        rest = self.sh_rest[:, :k]
        if rest.shape[1] < k:
            pad = torch.zeros(len(self), k - rest.shape[1], 3, dtype=rest.dtype, device=rest.device)
            rest = torch.cat([rest, pad], 1)
        return replace(self, sh_rest=rest)

    def detach(self) -> "GaussianScene":
        return replace(self, **{name: getattr(self, name).detach() for name in self.TENSORS})

    # ---- validation ------------------------------------------------------------------
    def check(self, *, finite: bool = True) -> "GaussianScene":
        """Raise InputError naming the first problem (shape, SH layout, NaN/Inf); return self."""
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (n, 3),
            "quats": (n, 4),
            "log_scales": (n, 3),
            "opacity_logits": (n,),
            "sh_dc": (n, 3),
        }
        if n < 0:
            raise InputError(f"means must have shape [N,3], got {tuple(self.means.shape)}")
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise InputError(f"{name} must have shape {list(shape)} for N={n}, got {list(got)}")
        rest = self.sh_rest
        if rest.ndim != 3 or rest.shape[0] != n or rest.shape[2] != 3:
            raise InputError(f"sh_rest must have shape [N,K,3], got {list(rest.shape)}")
        sh_degree_for_coeffs(rest.shape[1] + 1)  # raises on a degree mismatch
        for key, arr in self.extras.items():
            if len(arr) != n:
                raise InputError(f"extra property {key!r} has {len(arr)} values for {n} Gaussians")
        if finite:
            for name in self.TENSORS:
                t = getattr(self, name)
                bad = ~torch.isfinite(t)
                if bad.any():
                    rows = bad.reshape(n, -1).any(1).nonzero().flatten()
                    raise InputError(
                        f"{name} has NaN/Inf in {len(rows)} Gaussian(s), first at index {int(rows[0])}"
                    )
        return self

    def stats(self) -> dict[str, dict[str, float]]:
        """Per-attribute min / max / mean / std (for `gscodec info`)."""
        out = {}
        for name in self.TENSORS:
            t = getattr(self, name).detach().float()
            if t.numel() == 0:
                continue
            out[name] = {
                "min": float(t.min()),
                "max": float(t.max()),
                "mean": float(t.mean()),
                "std": float(t.std()) if t.numel() > 1 else 0.0,
            }
        return out

    def equal(self, other: "GaussianScene") -> bool:
        """Bit-exact equality of every tensor and extra."""
        if self.extras.keys() != other.extras.keys():
            return False
        return all(torch.equal(getattr(self, f), getattr(other, f)) for f in self.TENSORS) and all(
            np.array_equal(v, other.extras[k]) for k, v in self.extras.items()
        )


__all__ = ["GaussianScene", "sh_coeffs_for_degree", "sh_degree_for_coeffs"]
