"""Trainable representations (nn.Modules) that turn into plain scenes for coding."""
from gscodec.models.gaussians import GaussianModel

__all__ = ["GaussianModel"]
