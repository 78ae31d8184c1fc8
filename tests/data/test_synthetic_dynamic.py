"""The built-in dynamic scene: deterministic, moving where it should, static elsewhere."""
import numpy as np
import pytest
import torch

from gscodec.cli import main
from gscodec.data import load_dataset
from gscodec.data.plyio import read_point_cloud
from gscodec.data.synthetic_dynamic import (BLINK, blink_frames, dynamic_mask, make_dynamic_scene, objects_at,
                                            rig)
from gscodec.data.video import read_video
from gscodec.errors import InputError

TINY = dict(resolution=24, n_frames=4, n_train=3, seed=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_dynamic_scene(tmp_path_factory.mktemp("dyn") / "a", **TINY)


def _project(cam, x):
    p = cam.world_to_cam.double() @ torch.tensor([*x, 1.0], dtype=torch.float64)
    return int(cam.fy * p[1] / p[2] + cam.cy), int(cam.fx * p[0] / p[2] + cam.cx)


def test_deterministic(tiny, tmp_path):
    again = make_dynamic_scene(tmp_path / "b", **TINY)
    names = sorted(p.name for p in tiny.iterdir())
    assert names == ["cam00.mp4", "cam01.mp4", "cam02.mp4", "cam03.mp4", "points3d.ply", "poses_bounds.npy",
                     "scene.json"]
    for k in range(4):
        assert np.array_equal(read_video(tiny / f"cam{k:02d}.mp4"), read_video(again / f"cam{k:02d}.mp4"))
    assert (tiny / "points3d.ply").read_bytes() == (again / "points3d.ply").read_bytes()
    assert (tiny / "poses_bounds.npy").read_bytes() == (again / "poses_bounds.npy").read_bytes()


def test_motion_only_where_objects_move(tiny):
    cam = rig(TINY["n_train"], TINY["resolution"])[2]  # a training view
    v = read_video(tiny / "cam02.mp4").astype(int)
    assert v.shape == (4, 24, 24, 3)
    moving = np.zeros((24, 24), bool)
    for f in (0, 3):
        moving |= dynamic_mask(cam, f, TINY["n_frames"])
    pad = np.pad(moving, 1)  # one pixel of margin
    still = ~(moving | pad[:-2, 1:-1] | pad[2:, 1:-1] | pad[1:-1, :-2] | pad[1:-1, 2:])
    assert still.mean() > 0.5 and moving.sum() >= 10
    assert np.array_equal(v[0][still], v[3][still])  # the static ground and box do not change
    changed = np.abs(v[0] - v[3]).sum(-1) > 0
    assert changed[moving].mean() > 0.5  # the moving sphere and spinning box do
    hop0 = objects_at(0, 4)[0][0].centre
    assert changed[_project(cam, hop0)]


def test_blinking_sphere(tiny):
    n = TINY["n_frames"]
    assert list(blink_frames(n)) == [1, 2] and list(blink_frames(30)) == list(range(10, 20))
    assert [len(objects_at(f, n)[0]) for f in range(n)] == [1, 2, 2, 1]
    cam = rig(TINY["n_train"], TINY["resolution"])[1]
    v = read_video(tiny / "cam01.mp4")
    px = _project(cam, BLINK.centre)
    assert not np.array_equal(v[0][px], v[1][px]) and np.array_equal(v[1][px], v[2][px])
    assert v[1][px][2] > v[1][px][0]  # blue and white checker


def test_points_with_time(tiny):
    pc = read_point_cloud(tiny / "points3d.ply")
    assert pc.time is not None and len(pc.time) == len(pc.xyz) > 3000
    assert set(np.round(pc.time * 30).astype(int)) == {0}  # 4 frames: only frame 0 is a 5th frame
    assert np.abs(pc.xyz).max() < 2.2 and 0 <= pc.rgb.min() and pc.rgb.max() <= 1


def test_load_builtin_dynamic(tmp_path, monkeypatch):
    monkeypatch.setenv("GSCODEC_CACHE", str(tmp_path / "cache"))
    ds = load_dataset("builtin-dynamic:16", n_frames=3, n_train=2)
    assert ds.name == "builtin-dynamic-16" and ds.n_frames == 3 and ds.fps == 30.0 and len(ds.cameras) == 9
    assert [ds.cameras[i].name for i in ds.test_indices] == ["cam00_0000", "cam00_0001", "cam00_0002"]
    truth = {c.name: c for c in rig(2, 16)}
    for c in ds.cameras:
        assert torch.allclose(c.world_to_cam, truth[c.name[:5]].world_to_cam, atol=1e-5)
    stamp = next((tmp_path / "cache").glob("builtin-dynamic-*/points3d.ply")).stat().st_mtime_ns
    ds2 = load_dataset("builtin-dynamic:16", n_frames=3, n_train=2)
    assert next((tmp_path / "cache").glob("builtin-dynamic-*/points3d.ply")).stat().st_mtime_ns == stamp
    assert torch.equal(ds.image(4), ds2.image(4)) and ds.image(4).shape == (16, 16, 3)
    with pytest.raises(InputError, match="builtin-dynamic:RES"):
        load_dataset("builtin-dynamic:x")


def test_cli_make_scene_dynamic(tmp_path, capsys):
    assert main(["make-scene", str(tmp_path / "d"), "--dynamic", "--views", "2", "--frames", "2",
                 "--resolution", "12"]) == 0
    assert "dynamic" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "d").glob("cam*.mp4")) == ["cam00.mp4", "cam01.mp4", "cam02.mp4"]
