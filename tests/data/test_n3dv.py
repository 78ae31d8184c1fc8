"""The Neural 3D Video loader on a tiny folder written here from known look_at cameras."""
import math

import numpy as np
import pytest
import torch

from gscodec.data import load_dataset, video
from gscodec.data.cameras import Camera, look_at
from gscodec.data.n3dv import load_n3dv
from gscodec.data.plyio import read_point_cloud, read_points_ply, write_points_ply
from gscodec.data.video import write_video
from gscodec.errors import InputError

W, H, FPS, T = 20, 16, 10.0, 4
EYES = [(3.0, 0.5, 1.0), (0.4, 3.0, 0.8), (-3.0, -0.2, 1.5)]


def llff_row(cam: Camera, near=0.5, far=6.0) -> np.ndarray:
    """An LLFF row built as LLFF's own loader reads it: it turns [down, right, back] into
    OpenGL [right, up, back] by [c1, -c0, c2]; OpenGL is OpenCV with y and z flipped."""
    gl = cam.cam_to_world.double().numpy() @ np.diag([1.0, -1.0, -1.0, 1.0])
    m = np.stack([-gl[:3, 1], gl[:3, 0], gl[:3, 2], gl[:3, 3], [cam.height, cam.width, cam.fx]], 1)
    return np.concatenate([m.reshape(-1), [near, far]])


def frames_of(k: int, t: int = T) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([np.stack([(xx * 12 + f * 30 + k * 50) % 256, (yy * 15 + k * 40) % 256,
                               np.full_like(xx, 60 * f)], -1) for f in range(t)]).astype(np.uint8)


def make_folder(root, lengths=(T, T, T)):
    cams = [Camera.from_fov(W, H, math.radians(50), look_at(e, (0, 0, 0.2))) for e in EYES]
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "poses_bounds.npy", np.stack([llff_row(c) for c in cams]))
    for k, n in enumerate(lengths):
        write_video(root / f"cam{k:02d}.mp4", frames_of(k, n), FPS)
    return cams


def test_poses_split_time_images(tmp_path):
    truth = make_folder(tmp_path / "n3dv")
    write_points_ply(tmp_path / "n3dv" / "points3d.ply", np.zeros((5, 3)), np.full((5, 3), 0.5),
                     time=np.linspace(0, 0.3, 5))
    ds = load_dataset(tmp_path / "n3dv")
    assert ds.dynamic and ds.n_frames == T and ds.fps == FPS and len(ds.cameras) == 3 * T
    assert ds.test_indices == [i for i, c in enumerate(ds.cameras) if c.name.startswith("cam00_")]
    assert len(ds.test_indices) == T and len(ds.train_indices) == 2 * T
    for f in range(T):
        ids = ds.frame_indices(f, "train") + ds.frame_indices(f, "test")
        assert sorted(ds.cameras[i].name for i in ids) == [f"cam{k:02d}_{f:04d}" for k in range(3)]
    for i, cam in enumerate(ds.cameras):
        k, f = int(cam.name[3:5]), int(cam.name[6:])
        ref = truth[k]
        assert torch.allclose(cam.world_to_cam, ref.world_to_cam, atol=1e-5)
        assert (cam.width, cam.height) == (W, H) and abs(cam.fx - ref.fx) < 1e-4 and abs(cam.cy - H / 2) < 1e-9
        assert cam.frame == f and abs(cam.time - f / FPS) < 1e-12
        p = cam.world_to_cam @ torch.tensor([0.0, 0.0, 0.2, 1.0])  # the target: in front, at the centre
        assert p[2] > 0 and abs(cam.fx * p[0] / p[2] + cam.cx - W / 2) < 1e-3
        img = ds.image(i)
        assert torch.allclose(img, torch.from_numpy(frames_of(k)[f] / 255.0).float(), atol=1e-6)  # lossless
    assert (tmp_path / "n3dv" / "frames" / "cam01" / "0003.png").is_file()
    pc = ds.points
    assert pc.time is not None and np.allclose(pc.time, np.linspace(0, 0.3, 5))
    assert np.allclose(read_point_cloud(tmp_path / "n3dv" / "points3d.ply").time, pc.time)
    assert read_points_ply(tmp_path / "n3dv" / "points3d.ply")[0].shape == (5, 3)  # old reader unchanged
    short = load_n3dv(tmp_path / "n3dv", max_frames=2)  # points seen after the last frame kept are dropped
    assert short.n_frames == 2 and np.allclose(short.points.time, [0, 0.075, 0.15])


def test_cached_once_downscale_max_frames(tmp_path, monkeypatch):
    make_folder(tmp_path / "n")
    with pytest.warns(UserWarning, match="random points"):
        first = load_n3dv(tmp_path / "n")
    assert first.points.time.min() >= 0 and first.points.time.max() <= (T - 1) / FPS

    def no_decode(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(video, "read_frames", no_decode)
    with pytest.warns(UserWarning, match="random points"):
        again = load_n3dv(tmp_path / "n", max_frames=2)
    assert again.n_frames == 2 and len(again.cameras) == 6 and torch.equal(again.image(5), first.image(5))
    monkeypatch.undo()
    with pytest.warns(UserWarning):
        half = load_n3dv(tmp_path / "n", downscale=2, cache_dir=tmp_path / "cache")
    assert (half.cameras[0].width, half.cameras[0].height) == (W // 2, H // 2)
    assert half.image(0).shape == (H // 2, W // 2, 3)
    assert list((tmp_path / "cache" / "n3dv").glob("n-*/frames_2/cam02/0003.png"))


@pytest.mark.filterwarnings("ignore:.*random points")
def test_shorter_video_uses_the_minimum(tmp_path):
    make_folder(tmp_path / "n", lengths=(T, T - 1, T))
    with pytest.warns(UserWarning, match="differ in length"):
        ds = load_n3dv(tmp_path / "n")
    assert ds.n_frames == T - 1 and len(ds.cameras) == 3 * (T - 1)


def test_bad_inputs(tmp_path):
    root = tmp_path / "n"
    make_folder(root)
    (root / "cam02.mp4").unlink()
    with pytest.raises(InputError, match="3 cameras but there are 2"):
        load_n3dv(root)
    (root / "cam02.mp4").write_bytes(b"not a video" * 20)
    with pytest.raises(InputError, match="cannot read video.*cam02"):
        load_n3dv(root)
    np.save(root / "poses_bounds.npy", np.zeros((3, 15)))
    with pytest.raises(InputError, match=r"\[n_cams, 17\]"):
        load_n3dv(root)
    (root / "poses_bounds.npy").write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot read"):
        load_n3dv(root)
    with pytest.raises(InputError, match="downscale"):
        load_n3dv(root, downscale=0)
