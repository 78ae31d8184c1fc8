"""Plain scene data (no training state): what codecs encode and decoders return."""
from gscodec.scene.anchors import AnchorScene
from gscodec.scene.gaussian import (
    GaussianScene,
    sh_coeffs_for_degree,
    sh_degree_for_coeffs,
)
from gscodec.scene.ply import load_ply, save_ply
from gscodec.scene.spacetime import SpacetimeScene, SpacetimeSequence

__all__ = ["AnchorScene", "GaussianScene", "SpacetimeScene", "SpacetimeSequence", "load_ply", "save_ply", "sh_coeffs_for_degree", "sh_degree_for_coeffs"]
