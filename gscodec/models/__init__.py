"""Trainable representations (nn.Modules) that turn into plain scenes for coding."""
from gscodec.models.gaussians import GaussianModel
from gscodec.models.scaffold import ScaffoldModel, render_anchor_scene

__all__ = ["GaussianModel", "ScaffoldModel", "render_anchor_scene"]
