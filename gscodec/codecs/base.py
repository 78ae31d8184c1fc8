"""What every codec class shares: `decode` is the class's `decode_stream`, and `unpack` opens
a stream and checks it is this codec's, of a version this decoder reads, of a size its bytes
can justify, with a header its schema accepts."""
from __future__ import annotations

from typing import ClassVar

from gscodec.coding import container
from gscodec.coding.schema import check_size, validate
from gscodec.coding.stream import check_codec


class StreamCodec:
    name: ClassVar[str]
    version: ClassVar[int] = 1
    header_schema: ClassVar[type | None] = None  # the msgspec Struct its header must satisfy (coding/schema)

    def decode(self, data: bytes):
        return self.decode_stream(data)

    @classmethod
    def decode_stream(cls, data: bytes):
        raise NotImplementedError

    @classmethod
    def unpack(cls, data: bytes) -> tuple[dict, dict]:
        header, sections = container.unpack(data)
        check_codec(header, cls.name, cls.version)
        check_size(header, len(data))
        if cls.header_schema is not None:
            validate(header, cls.header_schema)  # every field typed and in range before any decoding
        return header, sections


__all__ = ["StreamCodec"]
