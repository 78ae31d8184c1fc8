"""Videos on PyAV: a lossless round trip, clear refusals, and the PNG frame cache."""
import os

import numpy as np
import pytest
from PIL import Image

from gscodec.data import video
from gscodec.data.video import cache_frames, read_video, video_info, write_video
from gscodec.errors import InputError


def _frames(t=5, h=23, w=25, seed=0):
    return (np.random.default_rng(seed).random((t, h, w, 3)) * 255).astype(np.uint8)


def test_round_trip_is_lossless(tmp_path):
    frames = _frames()
    write_video(tmp_path / "a.mp4", frames, fps=29.97)
    info = video_info(tmp_path / "a.mp4")
    assert (info.n_frames, info.width, info.height) == (5, 25, 23) and abs(info.fps - 29.97) < 1e-6
    assert np.array_equal(read_video(tmp_path / "a.mp4"), frames)  # libx264rgb crf 0: exact
    assert np.array_equal(read_video(tmp_path / "a.mp4", max_frames=2), frames[:2])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_refusals(tmp_path):
    with pytest.raises(InputError, match="video not found"):
        video_info(tmp_path / "nope.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"garbage" * 50)
    with pytest.raises(InputError, match="cannot read video"):
        read_video(tmp_path / "bad.mp4")
    with pytest.raises(InputError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 8, 8, 3), np.float32), 30)
    with pytest.raises(InputError, match="suffix"):
        write_video(tmp_path / "f.gif", _frames(2), 30)
    with pytest.raises(InputError, match="no frames"):
        write_video(tmp_path / "f.mp4", [], 30)
    assert not (tmp_path / "f.mp4").exists()


def test_cache_once_and_rebuild(tmp_path, monkeypatch):
    frames = _frames(4, 10, 12)
    src = tmp_path / "cam00.mp4"
    write_video(src, frames, 10)
    paths = cache_frames(src, tmp_path / "c" / "cam00")
    assert [p.name for p in paths] == ["0000.png", "0001.png", "0002.png", "0003.png"]
    assert np.array_equal(np.asarray(Image.open(paths[2])), frames[2])

    def no_decode(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(video, "read_frames", no_decode)
    assert cache_frames(src, tmp_path / "c" / "cam00") == paths
    assert cache_frames(src, tmp_path / "c" / "cam00", max_frames=2) == paths[:2]
    monkeypatch.undo()
    write_video(src, frames[::-1], 10)  # a changed video rebuilds its cache
    os.utime(src, ns=(1, 1))
    again = cache_frames(src, tmp_path / "c" / "cam00")
    assert np.array_equal(np.asarray(Image.open(again[0])), frames[3])
    small = cache_frames(src, tmp_path / "c" / "small", size=(6, 5), max_frames=3)
    assert len(small) == 3 and Image.open(small[0]).size == (6, 5)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["cam00", "small"]
