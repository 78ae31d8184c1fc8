"""Image I/O: every loader reads ground truth through `load_image`, so that alpha compositing
and resizing are done in one place, the same way for every dataset."""
from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gscodec.errors import InputError
from gscodec.utils.io import atomic_write_bytes


def _open(path: str | os.PathLike) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
    except FileNotFoundError:
        raise InputError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"cannot read image {path}: {e}") from None
    return img


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file, read from its header only."""
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise InputError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"cannot read image {path}: {e}") from None


def load_image(path: str | os.PathLike, size: tuple[int, int] | None = None,
               background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> torch.Tensor:
    """float32 [H,W,3] in [0,1]. RGBA is composited over `background` (in linear 0..1 values,
    as 3DGS does); `size=(W,H)` resizes (LANCZOS, on the premultiplied colours) when needed."""
    img = _open(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32) / (65535.0 if img.mode.startswith("I;16") else 255.0)
        img = Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8))
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if has_alpha else "RGB")
    if size is not None:
        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            raise InputError(f"bad image size {size} for {path}")
        if img.size != (w, h):
            if has_alpha:  # premultiply so that transparent pixels do not bleed their colour
                img = img.convert("RGBa").resize((w, h), Image.LANCZOS).convert("RGBA")
            else:
                img = img.resize((w, h), Image.LANCZOS)
    arr = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
    if has_alpha:
        rgb, a = arr[..., :3], arr[..., 3:4]
        bg = torch.tensor(background, dtype=torch.float32)
        arr = rgb * a + bg * (1.0 - a)
    return arr.clamp_(0.0, 1.0).contiguous()


def to_uint8(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """[H,W,3] floats in [0,1] -> uint8 (rounded), the form saved to PNG."""
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().float().numpy()
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path: str | os.PathLike, img: torch.Tensor | np.ndarray) -> None:
    """Write an [H,W,3] (or [H,W,4]) image in [0,1] as PNG, atomically."""
    arr = to_uint8(img)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"save_image expects [H,W,3] or [H,W,4], got {tuple(arr.shape)}")
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB" if arr.shape[2] == 3 else "RGBA").save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
