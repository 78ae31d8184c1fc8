import json

import numpy as np
import torch

from gscodec.data.images import load_image
from gscodec.data.plyio import read_points_ply
from gscodec.data.synthetic import load_builtin, make_synthetic_scene

from .conftest import SMALL


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_bytes(small_scene, tmp_path):
    again = make_synthetic_scene(tmp_path / "again", **SMALL)
    a, b = _files(small_scene), _files(again)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
    assert not any(k.endswith(".tmp") for k in a)


def test_seed_changes_scene(small_scene, tmp_path):
    other = make_synthetic_scene(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    assert (other / "points3d.ply").read_bytes() != (small_scene / "points3d.ply").read_bytes()


def test_layout_and_split(small_scene):
    train = json.loads((small_scene / "transforms_train.json").read_text())
    test = json.loads((small_scene / "transforms_test.json").read_text())
    assert len(train["frames"]) + len(test["frames"]) == SMALL["n_views"]
    assert [f["file_path"] for f in test["frames"]] == [f"./test/r_{i:03d}" for i in range(0, 16, 8)]
    assert test["white_background"] is False
    for f in train["frames"] + test["frames"]:
        assert (small_scene / (f["file_path"] + ".png")).is_file()


def test_images_non_trivial(small_scene):
    paths = sorted((small_scene / "train").glob("*.png"))
    imgs = [load_image(p) for p in paths]
    r = SMALL["resolution"]
    assert all(im.shape == (r, r, 3) for im in imgs)
    for im in imgs:
        assert float(im.std()) > 0.05
        assert (im.sum(-1) == 0).any()  # background is black
        q = (im.reshape(-1, 3) * 4).round().unique(dim=0)  # coarse colour bins
        assert len(q) >= 8
    diffs = [float((imgs[i] - imgs[i + 1]).abs().mean()) for i in range(len(imgs) - 1)]
    assert min(diffs) > 0.01


def test_point_cloud(small_scene):
    xyz, rgb = read_points_ply(small_scene / "points3d.ply")
    assert 3000 <= len(xyz) <= 4000 and xyz.shape == rgb.shape == (len(xyz), 3)
    assert np.abs(xyz).max() < 2.0 and xyz[:, 2].min() > -0.1
    assert 0 <= rgb.min() and rgb.max() <= 1 and rgb.std(0).min() > 0.05


def test_load_builtin_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GSCODEC_CACHE", str(tmp_path / "cache"))
    ds = load_builtin(resolution=24, n_views=8)
    dirs = list((tmp_path / "cache").iterdir())
    assert [d.name for d in dirs] == ["builtin-v1-r24-n8-s0"]
    stamp = (dirs[0] / "points3d.ply").stat().st_mtime_ns
    ds2 = load_builtin(resolution=24, n_views=8)
    assert (dirs[0] / "points3d.ply").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert ds.background == (0.0, 0.0, 0.0) and [c.name for c in ds.test_cameras()] == ["r_000"] and len(ds2.cameras) == 8
    assert torch.equal(ds.image(3), ds2.image(3))
