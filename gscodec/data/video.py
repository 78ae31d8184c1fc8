"""Video files on PyAV: write frames losslessly, read them back, cache them as PNG once.

Why a PNG cache: `Dataset.image(i)` loads one (view, frame) at a time from a file, and
decoding a video up to frame i for every image would cost O(frames) each time.

The writer's codec: `libx264rgb` at crf 0 (H.264 "High 4:4:4 Predictive", RGB, lossless):
frames come back bit-exact (measured max error 0 on random and smooth frames, odd sizes
too), in an ordinary .mp4 as the Neural 3D Video layout wants. Browsers seldom play it;
datasets do not need them to. Fallbacks, in order, when PyAV's FFmpeg lacks a codec:
`libx264` crf 0 in yuv444p (max error 2 of 255: the RGB->YUV rounding), then `ffv1` (lossless;
Matroska/AVI only)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from gscodec.errors import InputError
from gscodec.utils.io import atomic_open, atomic_write_text

_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
# (codec, pixel format, options, containers it may go in); the first available one is used
_CODECS = [("libx264rgb", "rgb24", {"crf": "0", "preset": "veryfast"}, ("mp4", "mov", "matroska")),
           ("libx264", "yuv444p", {"crf": "0", "preset": "veryfast"}, ("mp4", "mov", "matroska")),
           ("ffv1", "bgr0", {}, ("matroska", "avi"))]
MARKER = ".complete.json"  # written last into a frame cache: its presence means the cache is whole


def _av():
    try:
        import av
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("reading videos needs PyAV: pip install av") from None
    return av


@dataclass
class VideoInfo:
    n_frames: int
    fps: float
    width: int
    height: int


def _codec_for(fmt: str):
    av = _av()
    for name, pix, opts, formats in _CODECS:
        if fmt in formats and name in av.codecs_available:
            return name, pix, opts
    raise InputError(f"PyAV's FFmpeg has no lossless video codec for the {fmt} container")


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray] | np.ndarray, fps: float = 30.0) -> Path:
    """Write uint8 RGB frames [T,H,W,3] (an array or an iterable of [H,W,3]) as a lossless
    video (see the module notes for the codec), atomically. The container follows the suffix."""
    av = _av()
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown video suffix; use one of {', '.join(_FORMATS)}")
    if not fps or fps <= 0 or not np.isfinite(fps):
        raise InputError(f"fps must be > 0, got {fps}")
    codec, pix, opts = _codec_for(fmt)
    n = 0
    with atomic_open(path, "wb") as f, av.open(f, "w", format=fmt) as out:
        stream = None
        for frame in frames:
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise InputError(f"write_video expects uint8 [H,W,3] frames, got {frame.dtype} {frame.shape}")
            if stream is None:
                stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(100_000), options=opts)
                stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], pix
                size = frame.shape
            elif frame.shape != size:
                raise InputError(f"write_video: frame {n} is {frame.shape}, the first was {size}")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
            n += 1
        if stream is None:
            raise InputError(f"write_video {path}: no frames")
        for packet in stream.encode():
            out.mux(packet)
    return path


def _open(path: Path):
    av = _av()
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"cannot read video {path}: {e}") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: no video stream")
    return container


def video_info(path: str | os.PathLike, default_fps: float = 30.0) -> VideoInfo:
    """Frame count, fps and size, from the container's header (counting packets, not decoding
    them, when the header has no count)."""
    av = _av()
    path = Path(path)
    with _open(path) as c:
        st = c.streams.video[0]
        rate = st.average_rate or st.guessed_rate or st.base_rate
        fps = float(rate) if rate else default_fps
        n = int(st.frames or 0)
        try:
            if n <= 0:
                n = sum(1 for p in c.demux(st) if p.size)
        except (av.FFmpegError, OSError, ValueError) as e:
            raise InputError(f"cannot read video {path}: {e}") from None
        w, h = st.codec_context.width, st.codec_context.height
    if n <= 0 or w <= 0 or h <= 0:
        raise InputError(f"{path}: empty or unreadable video stream")
    return VideoInfo(n, fps, w, h)


def read_frames(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """uint8 RGB frames [H,W,3] in order, decoded lazily; a corrupt stream is one InputError."""
    av = _av()
    path = Path(path)
    container = _open(path)
    try:
        k = 0
        for frame in container.decode(container.streams.video[0]):
            if max_frames is not None and k >= max_frames:
                break
            yield frame.to_ndarray(format="rgb24")
            k += 1
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"cannot decode video {path}: {e}") from None
    finally:
        container.close()


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> np.ndarray:
    """All frames as one uint8 array [T,H,W,3]."""
    frames = list(read_frames(path, max_frames))
    if not frames:
        raise InputError(f"{path}: the video has no frames")
    return np.stack(frames)


def _source_key(video: Path, size) -> dict:
    st = video.stat()
    return {"video": video.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
            "size": list(size) if size else None}


def _cached(cache_dir: Path, key: dict, want: int | None) -> list[Path] | None:
    try:
        meta = json.loads((cache_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key:
        return None
    count = int(meta.get("count", 0))
    if want is not None and count < want and not meta.get("whole"):
        return None  # made with a smaller max_frames
    n = count if want is None else min(count, want)
    paths = [cache_dir / f"{i:04d}.png" for i in range(n)]
    return paths if all(p.is_file() for p in paths) else None


def is_cached(video: str | os.PathLike, cache_dir: str | os.PathLike, size: tuple[int, int] | None = None,
              max_frames: int | None = None) -> bool:
    """Whether cache_frames would reuse its cache (without decoding anything)."""
    video = Path(video)
    return video.is_file() and _cached(Path(cache_dir), _source_key(video, size), max_frames) is not None


def cache_frames(video: str | os.PathLike, cache_dir: str | os.PathLike, size: tuple[int, int] | None = None,
                 max_frames: int | None = None) -> list[Path]:
    """Frames of `video` as cache_dir/0000.png, 0001.png, ..., extracted once: they are
    written into a temporary folder that is renamed into place with a marker naming the
    source (name, bytes, mtime) and size, so a changed video or size rebuilds the cache.
    `size=(W,H)` resizes each frame (LANCZOS, as load_image does)."""
    video, cache_dir = Path(video), Path(cache_dir)
    if not video.is_file():
        raise InputError(f"video not found: {video}")
    key = _source_key(video, size)
    hit = _cached(cache_dir, key, max_frames)
    if hit is not None:
        return hit
    try:
        cache_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.", dir=cache_dir.parent))
    except OSError as e:
        raise InputError(f"cannot write the frame cache {cache_dir}: {e.strerror or e}") from None
    try:
        count = 0
        for count, frame in enumerate(read_frames(video, max_frames), 1):
            img = Image.fromarray(frame, "RGB")
            if size is not None and img.size != tuple(size):
                img = img.resize(tuple(int(v) for v in size), Image.LANCZOS)
            img.save(tmp / f"{count - 1:04d}.png", compress_level=1)
        if count == 0:
            raise InputError(f"{video}: the video has no frames")
        whole = max_frames is None or count < max_frames
        atomic_write_text(tmp / MARKER, json.dumps({"key": key, "count": count, "whole": whole}) + "\n")
        if cache_dir.exists():
            shutil.rmtree(cache_dir, ignore_errors=True)  # stale: another video, size or length
        try:
            os.replace(tmp, cache_dir)
        except OSError:  # another process won the race: use its cache if it is whole
            hit = _cached(cache_dir, key, max_frames)
            if hit is None:
                raise InputError(f"cannot write the frame cache {cache_dir}") from None
            return hit
    except OSError as e:
        raise InputError(f"cannot write the frame cache {cache_dir}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [cache_dir / f"{i:04d}.png" for i in range(count)]
