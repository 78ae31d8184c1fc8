"""One base for every dataclass config: `from_dict` refuses an unknown key with one line
naming it and listing the valid ones, builds nested configs (NESTED), reads JSON lists as
tuples where the field's default is a tuple, turns a constructor's TypeError/ValueError into
one line, and runs the class's `validate()`."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from gscodec.errors import InputError


class ConfigBase:
    """Mix into a @dataclass config. WHAT names it in errors; NESTED maps a field to the
    config class its JSON object becomes."""

    WHAT: ClassVar[str] = "config"
    NESTED: ClassVar[dict[str, type]] = {}

    @classmethod
    def from_dict(cls, d: dict) -> Any:
        if not isinstance(d, dict):
            raise InputError(f"{cls.WHAT} must be a JSON object, got {type(d).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise InputError(f"unknown {cls.WHAT} keys: {', '.join(map(str, unknown))} "
                             f"(valid: {', '.join(sorted(fields))})")
        kw = {}
        for k, v in d.items():
            nested = cls.NESTED.get(k)
            if nested is not None and not isinstance(v, nested):
                v = nested.from_dict(v)
            elif isinstance(v, list) and isinstance(fields[k].default, tuple):
                v = tuple(v)
            kw[k] = v
        try:
            obj = cls(**kw)
            return obj.validate() if hasattr(obj, "validate") else obj
        except InputError:
            raise
        except (TypeError, ValueError, OverflowError) as e:
            raise InputError(f"invalid {cls.WHAT} ({e})"[:300]) from None


__all__ = ["ConfigBase"]
