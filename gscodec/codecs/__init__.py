"""End-to-end codecs behind one interface, found by name in a registry.

A codec turns a scene into self-contained .gsz bytes and back. `decode_file` reads the codec
name from the container header, so a decoder needs nothing but the file.
"""
from gscodec.codecs.registry import (
    available_codecs,
    decode_bytes,
    encode_scene,
    get_codec,
    register_codec,
)

__all__ = ["available_codecs", "decode_bytes", "encode_scene", "get_codec", "register_codec"]
