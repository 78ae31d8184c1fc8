"""Lossless coding layer: the .gsz container, ANS entropy coding, positions and symbols."""
from gscodec.coding.container import (
    Section,
    describe,
    pack,
    read_gsz,
    unpack,
    write_gsz,
)

__all__ = ["Section", "pack", "unpack", "read_gsz", "write_gsz", "describe"]
