"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class GscodecError(Exception):
    """Base class of every error gscodec raises on purpose."""


class InputError(GscodecError):
    """A file or argument given by the user is malformed or inconsistent."""


class CorruptStreamError(InputError):
    """A .gsz bitstream failed a structural or checksum check."""


def readable(message: object, limit: int = 400) -> str:
    """An error message as a user should read it: numbers of more than 15 digits (a forged
    header's 1e300 printed in full) shortened to 4 significant digits, and at most `limit`
    characters."""
    import re

    def short(m: re.Match) -> str:
        try:
            return f"{float(m.group()):.4g}"
        except (ValueError, OverflowError):
            return m.group()[:8] + "..."

    text = re.sub(r"-?\d[\d.]{15,}(?:[eE][+-]?\d+)?", short, str(message))
    return text if len(text) <= limit else text[: limit - 3] + "..."
