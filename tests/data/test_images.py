import numpy as np
import pytest
import torch
from PIL import Image

from gscodec.data.images import load_image, save_image
from gscodec.errors import InputError


def test_save_load_round_trip(tmp_path):
    img = torch.rand(10, 12, 3)
    save_image(tmp_path / "a" / "x.png", img)
    back = load_image(tmp_path / "a" / "x.png")
    assert back.shape == (10, 12, 3) and back.dtype == torch.float32
    assert float((back - img).abs().max()) <= 0.5 / 255 + 1e-6
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.png"]  # no temp file left


def test_resize_and_alpha(tmp_path):
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[..., 1] = 255  # green, alpha 0 on the left half
    rgba[:, 20:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png", (10, 5), background=(0.0, 0.0, 1.0))
    assert img.shape == (5, 10, 3)
    assert torch.allclose(img[2, 0], torch.tensor([0.0, 0.0, 1.0]), atol=1e-2)
    assert torch.allclose(img[2, 9], torch.tensor([0.0, 1.0, 0.0]), atol=1e-2)


def test_errors(tmp_path):
    with pytest.raises(InputError, match="image not found"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot read image"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(InputError):
        save_image(tmp_path / "y.png", torch.zeros(4, 4))
