"""GaussianScene -> the activated arrays viser's `add_gaussian_splats` takes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gscodec.render.project import quat_to_rotmat
from gscodec.scene import GaussianScene

SH_C0 = 0.28209479177387814


@dataclass
class SplatArrays:
    centers: np.ndarray      # [N,3] float32
    covariances: np.ndarray  # [N,3,3] float32
    rgbs: np.ndarray         # [N,3] float32 in [0,1]
    opacities: np.ndarray    # [N,1] float32 in [0,1]

    def __len__(self) -> int:
        return int(self.centers.shape[0])


def scene_to_splats(scene: GaussianScene, colors: torch.Tensor | None = None,
                    opacities: torch.Tensor | None = None) -> SplatArrays:
    """Covariance R diag(s^2) R^T, colour from the SH DC term (0.5 + C0 * dc, clipped), opacity
    sigmoid(logit). `colors` / `opacities` (activated) override, e.g. for network-decoded
    attributes of anchor scenes. View-dependent SH bands are not shown (viser has no SH)."""
    with torch.no_grad():
        s = scene.to(device="cpu", dtype=torch.float32)
        rot = quat_to_rotmat(s.quats)
        m = rot * torch.exp(s.log_scales)[:, None, :]
        cov = m @ m.transpose(1, 2)
        rgb = (0.5 + SH_C0 * s.sh_dc) if colors is None else colors.float().cpu()
        op = torch.sigmoid(s.opacity_logits) if opacities is None else opacities.float().cpu()
        return SplatArrays(
            centers=np.ascontiguousarray(s.means.numpy(), np.float32),
            covariances=np.ascontiguousarray(cov.numpy(), np.float32),
            rgbs=np.ascontiguousarray(rgb.clamp(0, 1).numpy(), np.float32),
            opacities=np.ascontiguousarray(op.reshape(-1, 1).clamp(0, 1).numpy(), np.float32),
        )
