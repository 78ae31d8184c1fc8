"""Compression simulation during training: quantization proxies (noise / STE)."""
from gscodec.simulate.quantize import (
    MODES,
    QuantConfig,
    Quantizer,
    make_quantizers,
    round_ste,
)

__all__ = ["MODES", "QuantConfig", "Quantizer", "make_quantizers", "round_ste"]
