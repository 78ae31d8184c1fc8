"""Codec registry: `register_codec` adds a class by name; the container header names the codec."""
from __future__ import annotations

import inspect
import struct
from typing import Any, Protocol

from gscodec.errors import CorruptStreamError, GscodecError, InputError


class Codec(Protocol):
    name: str

    def encode(self, scene: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


_REGISTRY: dict[str, type] = {}


def register_codec(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # importing registers them; kept lazy so `import gscodec` stays light
    import gscodec.codecs.anchor_raw
    import gscodec.codecs.combined
    import gscodec.codecs.dynamic_gscodec
    import gscodec.codecs.hac
    import gscodec.codecs.hemgs
    import gscodec.codecs.mop
    import gscodec.codecs.predict_gs
    import gscodec.codecs.ptc.codec
    import gscodec.codecs.static_gscodec  # noqa: F401


def available_codecs() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def codec_class(name: str) -> type:
    """The class registered as `name` (its class attributes say how it trains: `representation`,
    `trains_with_compression`), or a one-line error listing the codecs there are."""
    _load_builtin()
    if name not in _REGISTRY:
        raise InputError(f"unknown codec {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get_codec(name: str, **config) -> Codec:
    """An instance of codec `name`; an option it does not take is a one-line error (a codec
    whose constructor takes **options checks them itself)."""
    cls = codec_class(name)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        takes = [p for p in params if p != "self"]
        unknown = sorted(set(config) - set(takes))
        if unknown:
            raise InputError(f"codec {name!r} has no option {', '.join(unknown)} (its options: "
                             f"{', '.join(takes) or 'none'})")
    return cls(**config)


def codec_version(name: str) -> int | None:
    """The stream version of codec `name` (None if unknown): results made by another version
    of a codec are not the same measurement."""
    _load_builtin()
    return getattr(_REGISTRY.get(name), "version", None)


def encode_scene(scene, codec: str = "ptc", **config) -> bytes:
    return get_codec(codec, **config).encode(scene)


DEFAULT_MAX_SPLATS = 1 << 25  # ~33M Gaussians (anchors x offsets), a few GB decoded


def decode_bytes(data: bytes, max_splats: int | None = DEFAULT_MAX_SPLATS):
    """Decode any .gsz: the codec is the one named in its header. A stream declaring more
    than `max_splats` Gaussians (anchor streams: anchors x offsets) is refused before
    anything is decoded (None: no limit)."""
    from gscodec.coding.container import unpack

    header, _ = unpack(data)
    if max_splats is not None:
        count, k = header.get("count"), header.get("n_offsets", 1)
        if isinstance(count, int) and isinstance(k, int) and count * max(k, 1) > max_splats:
            raise InputError(f"the stream declares {count * max(k, 1)} Gaussians, above the limit of {max_splats} "
                             "(raise it with --max-splats)")
    name = header.get("codec")
    _load_builtin()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise CorruptStreamError(f"stream names codec {name!r}, which this gscodec does not have")
    try:
        scene = _REGISTRY[name].decode_stream(data)
    except GscodecError:
        raise
    except MemoryError:
        raise CorruptStreamError("the stream would need more memory than this machine has to decode") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError, OverflowError,
            ZeroDivisionError, RuntimeError, struct.error) as e:
        # the last line of defence: a forged header the decoder's checks did not anticipate
        raise CorruptStreamError(f"the stream is malformed ({type(e).__name__}: {e})") from None
    return check_finite(scene)


def check_finite(scene):
    """Refuse a decoded scene holding NaN or Inf (a forged stream that decodes to garbage):
    every float tensor of the scene, of its dicts of tensors (decoder state, MLP weights) and,
    for a sequence, of each of its groups of frames."""
    import dataclasses

    import torch

    if isinstance(getattr(scene, "gofs", None), list):
        for g in scene.gofs:
            check_finite(g)
        return scene
    tensors = {f.name: getattr(scene, f.name) for f in dataclasses.fields(scene)}
    for name, d in list(tensors.items()):
        if isinstance(d, dict):
            tensors.update({f"{name}.{k}": v for k, v in d.items()})
    tensors.update({f"decoder_state.{k}": v for k, v in (getattr(scene, "decoder_state", None) or {}).items()})
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            bad = int((~torch.isfinite(t)).sum())
            if bad:
                raise CorruptStreamError(f"the stream decodes to {bad} non-finite values in {name}")
    return scene


def decode_to_gaussians(data: bytes, sh_degree: int | None = None, max_splats: int | None = DEFAULT_MAX_SPLATS):
    """Decode any .gsz to a plain 3DGS GaussianScene: anchor streams (hac, scaffold-raw) are
    exported by spawning their neural Gaussians and fitting SH of `sh_degree` (default 3) to
    their view-dependent colour (gscodec.models.scaffold_export), so any 3DGS viewer opens them;
    a Gaussian stream has its own SH degree, so a `sh_degree` given for one is an error, not
    ignored. A dynamic stream is a sequence, not one scene: refused with a pointer to --frames."""
    from gscodec.scene import AnchorScene

    scene = decode_bytes(data, max_splats)
    if isinstance(getattr(scene, "gofs", None), list):
        raise InputError(f"this is a dynamic stream ({scene.n_frames} frames at {scene.fps:g} fps), not one scene: "
                         "`gscodec decode FILE --frames DIR` writes one PLY per frame (decode_bytes gives the sequence)")
    if isinstance(scene, AnchorScene):
        from gscodec.models.scaffold_export import anchors_to_gaussians

        return anchors_to_gaussians(scene, 3 if sh_degree is None else sh_degree)
    if sh_degree is not None:
        raise InputError(f"--sh-degree applies to anchor streams (their colour is fitted to SH); this "
                         f"{type(scene).__name__} keeps the SH degree it was coded with ({scene.sh_degree})")
    return scene
