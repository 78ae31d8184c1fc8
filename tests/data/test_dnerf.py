"""D-NeRF folders: NeRF-synthetic frames with a normalised "time" become frames with seconds."""
import json

import numpy as np
import pytest
from PIL import Image

from gscodec.data import load_dataset
from gscodec.data.nerf_synthetic import load_nerf_synthetic
from gscodec.errors import InputError


def make_dnerf(root, train_times, test_times):
    root.mkdir(parents=True)
    for split, times in (("train", train_times), ("test", test_times)):
        (root / split).mkdir()
        frames = []
        for k, t in enumerate(times):
            Image.new("RGB", (8, 6), (k * 20, 100, 50)).save(root / split / f"r_{k:03d}.png")
            fr = {"file_path": f"./{split}/r_{k:03d}", "transform_matrix": np.eye(4).tolist()}
            if t is not None:
                fr["time"] = t
            frames.append(fr)
        (root / f"transforms_{split}.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": frames}))
    return root


def test_times_to_frames(tmp_path):
    root = make_dnerf(tmp_path / "d", [0.0, 1 / 3, 1.0], [2 / 3])
    ds = load_dataset(root)
    assert ds.dynamic and ds.n_frames == 4 and ds.fps == pytest.approx(3.0)
    assert [c.frame for c in ds.cameras] == [0, 1, 3, 2]
    assert [c.time for c in ds.cameras] == pytest.approx([0.0, 1 / 3, 1.0, 2 / 3])
    assert ds.frame_indices(2, "test") == [3] and ds.frame_indices(2, "train") == []
    assert ds.image(3).shape == (6, 8, 3)


def test_one_time_and_uneven_times(tmp_path):
    one = load_nerf_synthetic(make_dnerf(tmp_path / "one", [0.5, 0.5], [0.5]))
    assert one.n_frames == 1 and one.fps == 1.0 and all(c.frame == 0 and c.time == 0 for c in one.cameras)
    with pytest.warns(UserWarning, match="not evenly spaced"):
        ds = load_nerf_synthetic(make_dnerf(tmp_path / "uneven", [0.0, 0.1, 1.0], [0.2]))
    assert ds.n_frames == 4 and ds.fps == pytest.approx(3.0)


def test_static_still_static_and_mixed_refused(tmp_path):
    ds = load_nerf_synthetic(make_dnerf(tmp_path / "s", [None, None], [None]))
    assert not ds.dynamic and ds.fps is None and all(c.frame is None and c.time is None for c in ds.cameras)
    with pytest.raises(InputError, match="some frames have a 'time'"):
        load_nerf_synthetic(make_dnerf(tmp_path / "m", [0.0, None], [0.5]))
    with pytest.raises(InputError, match="bad time"):
        load_nerf_synthetic(make_dnerf(tmp_path / "b", [0.0, "soon"], [0.5]))
