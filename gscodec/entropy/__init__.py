"""Learned entropy models (each an nn.Module with a training face and a coding face)."""
from gscodec.entropy.factorized import FactorizedEntropyModel
from gscodec.entropy.gaussian import GaussianConditional
from gscodec.entropy.hac import HacConfig, HacEntropyModel, HacOutput
from gscodec.entropy.hashgrid import (
    HAC_2D_RESOLUTIONS,
    HAC_3D_RESOLUTIONS,
    BinaryHashGrid,
    BinaryHashGrid2D,
    BinaryHashGrid3D,
    HashBits,
    HashContext,
    binarize,
)

__all__ = [
    "HAC_2D_RESOLUTIONS",
    "HAC_3D_RESOLUTIONS",
    "BinaryHashGrid",
    "BinaryHashGrid2D",
    "BinaryHashGrid3D",
    "FactorizedEntropyModel",
    "GaussianConditional",
    "HacConfig",
    "HacEntropyModel",
    "HacOutput",
    "HashBits",
    "HashContext",
    "binarize",
]
