"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class GscodecError(Exception):
    """Base class of every error gscodec raises on purpose."""


class InputError(GscodecError):
    """A file or argument given by the user is malformed or inconsistent."""


class CorruptStreamError(InputError):
    """A .gsz bitstream failed a structural or checksum check."""
