"""Vanilla 3DGS as a trainable module: the GaussianScene attributes as nn.Parameters."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from gscodec.data.dataset import PointCloud
from gscodec.scene import GaussianScene

SH_C0 = 0.28209479177387814
PARAM_NAMES = ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest")


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    return (rgb - 0.5) / SH_C0


class GaussianModel(nn.Module):
    """Parameters in stored form; `scene()` gives the plain scene the codecs and render() use."""

    def __init__(self, scene: GaussianScene):
        super().__init__()
        scene.check()
        for name in PARAM_NAMES:
            setattr(self, name, nn.Parameter(getattr(scene, name).detach().clone().float()))

    @classmethod
    def from_points(cls, points: PointCloud, sh_degree: int = 3, init_opacity: float = 0.1,
                    init_scale: float = 1.0, max_points: int | None = None, seed: int = 0) -> "GaussianModel":
        """The 3DGS initialisation: one Gaussian per point, isotropic scale from the distance to
        its 3 nearest neighbours, colour from the point's RGB in the SH DC term."""
        from scipy.spatial import cKDTree

        xyz = np.asarray(points.xyz, np.float32)
        rgb = np.asarray(points.rgb, np.float32)
        if max_points is not None and len(xyz) > max_points:
            keep = np.random.default_rng(seed).choice(len(xyz), max_points, replace=False)
            xyz, rgb = xyz[keep], rgb[keep]
        n = len(xyz)
        if n >= 4:
            d, _ = cKDTree(xyz).query(xyz, k=4)
            dist = np.sqrt((d[:, 1:] ** 2).mean(1))
        else:
            dist = np.full(n, 0.01, np.float32)
        dist = np.clip(dist, 1e-7, None) * init_scale
        quats = torch.zeros(n, 4)
        quats[:, 0] = 1.0
        k = (sh_degree + 1) ** 2 - 1
        logit = math.log(init_opacity / (1 - init_opacity))
        scene = GaussianScene(
            means=torch.from_numpy(xyz),
            quats=quats,
            log_scales=torch.from_numpy(np.log(dist)).float()[:, None].repeat(1, 3),
            opacity_logits=torch.full((n,), logit),
            sh_dc=rgb_to_sh_dc(torch.from_numpy(rgb)),
            sh_rest=torch.zeros(n, k, 3),
        )
        return cls(scene)

    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return int(round(math.sqrt(self.sh_rest.shape[1] + 1))) - 1

    def params(self) -> dict[str, nn.Parameter]:
        return {name: getattr(self, name) for name in PARAM_NAMES}

    def scene(self) -> GaussianScene:
        """A differentiable view as a GaussianScene (tensors still attached to the graph)."""
        return GaussianScene(**{name: getattr(self, name) for name in PARAM_NAMES})

    def export(self) -> GaussianScene:
        return self.scene().detach().to("cpu")
