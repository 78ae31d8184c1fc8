"""What every codec class shares: `decode` is the class's `decode_stream`, and `unpack` opens
a stream and checks it is this codec's, of a version this decoder reads."""
from __future__ import annotations

from typing import ClassVar

from gscodec.coding import container
from gscodec.coding.stream import check_codec


class StreamCodec:
    name: ClassVar[str]
    version: ClassVar[int] = 1

    def decode(self, data: bytes):
        return self.decode_stream(data)

    @classmethod
    def decode_stream(cls, data: bytes):
        raise NotImplementedError

    @classmethod
    def unpack(cls, data: bytes) -> tuple[dict, dict]:
        header, sections = container.unpack(data)
        check_codec(header, cls.name, cls.version)
        return header, sections


__all__ = ["StreamCodec"]
