"""Where the player's frames come from: a dynamic stream (.gsz of Spacetime Gaussians).

A `DynamicSource` reads the stream's GOF index once (no decoding) and decodes a group of
frames only when a frame inside it is asked for, so seeking to a time costs one GOF's decode,
not the sequence's. Decoded GOFs are kept in a small LRU cache (a GOF is small next to the
splats the browser holds for its frames, and stepping back and forth stays inside one).

What the browser gets per frame is the slice at that frame's time (gscodec.scene.spacetime:
`slice_scene`), its colour MLP baked over view directions to SH degree 0 (viser draws one RGB
per splat), converted by `scene_to_splats`. Depth is rendered here, on the CPU, with the
project's rasterizer in expected-depth mode (`render_camera(..., render_mode="RGB+ED")`).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

import torch

from gscodec.errors import GscodecError, InputError
from gscodec.utils.rates import mbps

GOF_CACHE = 4  # decoded GOFs kept: the one playing, the next, and two recently seeked to


def stream_codec(data: bytes):
    """The codec class of a .gsz when it is a dynamic stream (has a GOF index), else None.
    A file that is not a readable container is not dynamic (the static loader reports it)."""
    from gscodec.codecs.registry import codec_class
    from gscodec.coding.container import unpack

    try:
        header, _ = unpack(data)
    except Exception:  # not a container, or a damaged one: the static path gives the one-line error
        return None
    try:
        cls = codec_class(header.get("codec")) if isinstance(header.get("codec"), str) else None
    except InputError:  # an unknown codec: the static path says so
        return None
    if cls is not None and getattr(cls, "representation", None) == "spacetime" and hasattr(cls, "decode_gof"):
        return cls
    return None


def is_dynamic(path: str | Path) -> bool:
    """Whether `path` is a .gsz of a dynamic sequence (a .ply, or anything else, is not)."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        if f.read(3) == b"ply":
            return False
    return stream_codec(path.read_bytes()) is not None


class DynamicSource:
    """One dynamic stream: its index, per-GOF sizes and bitrate, GOFs decoded on demand."""

    view_dependent = False  # per frame the colours are baked over directions (viser has no SH)

    def __init__(self, data: bytes, path: Path, sh_degree: int = 0):
        from gscodec.coding.container import unpack

        cls = stream_codec(data)
        if cls is None:
            raise InputError(f"{path}: not a dynamic stream (open it with the static viewer)")
        self.codec, self.data, self.path = cls, data, Path(path)
        self.name = self.path.name
        self.sh_degree = sh_degree
        try:
            self.index = cls.gof_index(data)
            header, _ = unpack(data)
            self.fps, self.n_frames = float(header["fps"]), int(header["n_frames"])
        except GscodecError as e:
            raise InputError(f"{path}: {e}") from e
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{path}: the dynamic stream's header is malformed ({e})") from e
        self._gofs: OrderedDict[int, object] = OrderedDict()
        self._lock = threading.Lock()  # the playback thread and GUI callbacks both ask for frames
        self.decoded: list[int] = []  # GOFs decoded, in order (what seeking cost)
        self.decode_seconds: dict[int, float] = {}

    @classmethod
    def load(cls, path: str | Path) -> "DynamicSource":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        return cls(path.read_bytes(), path)

    # ---- time ----------------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        return self.n_frames / self.fps

    def frame_time(self, frame: int) -> float:
        """Seconds of `frame` (frame / fps, as SpacetimeSequence.frame_of rounds back)."""
        return self._check_frame(frame) / self.fps

    def frame_at(self, t: float) -> int:
        """The frame shown at time t (seconds), clamped to the sequence."""
        return min(max(int(round(float(t) * self.fps)), 0), self.n_frames - 1)

    def gof_of(self, frame: int) -> int:
        frame = self._check_frame(frame)
        for e in self.index:
            f0, f1 = e["frames"]
            if f0 <= frame < f1:
                return int(e["gof"])
        raise InputError(f"frame {frame} lies in no GOF of {self.name}")  # the index covers all frames

    def _check_frame(self, frame: int) -> int:
        if not 0 <= int(frame) < self.n_frames:
            raise InputError(f"frame {frame} is outside {self.name}'s 0..{self.n_frames - 1}")
        return int(frame)

    # ---- decoding ------------------------------------------------------------------------
    def gof(self, k: int):
        """The decoded SpacetimeScene of GOF k (decoded alone, on first use, then cached)."""
        with self._lock:
            if k in self._gofs:
                self._gofs.move_to_end(k)
                return self._gofs[k]
            t0 = time.perf_counter()
            try:
                scene = self.codec.decode_gof(self.data, k)
            except GscodecError as e:
                raise InputError(f"{self.path}: GOF {k}: {e}") from e
            self.decode_seconds[k] = time.perf_counter() - t0
            self.decoded.append(k)
            self._gofs[k] = scene
            while len(self._gofs) > GOF_CACHE:
                self._gofs.popitem(last=False)
            return scene

    def cached(self) -> list[int]:
        """The GOFs decoded and kept, in index order."""
        with self._lock:
            return sorted(self._gofs)

    def frame_splats(self, frame: int):
        """The plain GaussianScene the browser shows at `frame` (colours baked to SH 0 / 1)."""
        g = self.gof(self.gof_of(frame))
        return g.slice_scene(self.frame_time(frame), sh_degree=self.sh_degree)

    def render(self, frame: int, camera, render_mode: str = "RGB+ED"):
        """The exact render (features decoded per pixel) of `frame` at `camera`, with expected
        depth: RenderResult(image, alpha, depth)."""
        from dataclasses import replace

        g = self.gof(self.gof_of(frame))
        cam = replace(camera, time=self.frame_time(frame), frame=int(frame))
        with torch.no_grad():
            return g.render_camera(cam, render_mode=render_mode)

    # ---- the side panel ------------------------------------------------------------------
    def gof_rows(self) -> list[dict]:
        """Per GOF: frames, splats, bytes and its bitrate (bits / its duration / 1e6)."""
        rows = []
        for e in self.index:
            f0, f1 = e["frames"]
            rows.append({"gof": e["gof"], "frames": (f0, f1), "splats": e["count"], "moving": e["moving"],
                         "bytes": e["bytes"], "mbps": mbps(e["bytes"], f1 - f0, self.fps)})
        return rows

    def info(self) -> dict:
        return {"file": str(self.path), "bytes": len(self.data), "codec": self.codec.name, "fps": self.fps,
                "n_frames": self.n_frames, "seconds": self.seconds,
                "mbps": mbps(len(self.data), self.n_frames, self.fps), "gofs": self.gof_rows(),
                "splats": sum(e["count"] for e in self.index)}
