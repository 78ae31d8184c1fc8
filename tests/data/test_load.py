import pytest

from gscodec.data import load_dataset
from gscodec.errors import InputError


def test_dispatch(small_scene, tiny_colmap, tmp_path, monkeypatch):
    assert load_dataset(small_scene).name == small_scene.name
    root, _ = tiny_colmap
    assert len(load_dataset(root, downscale=2).cameras) == 3
    monkeypatch.setenv("GSCODEC_CACHE", str(tmp_path / "cache"))
    ds = load_dataset("builtin:16", n_views=8)
    assert ds.cameras[0].width == 16 and ds.name == "builtin-16"


def test_errors(tmp_path):
    with pytest.raises(InputError, match="dataset not found"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(InputError, match="transforms_train.json.*sparse"):
        load_dataset(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        load_dataset(tmp_path / "f.txt")
    with pytest.raises(InputError, match="builtin:RES"):
        load_dataset("builtin:big")
    (tmp_path / "sparse").mkdir()
    with pytest.raises(InputError, match="downscale"):
        load_dataset(tmp_path, downscale=0)
