"""The 4D player (gscodec view on a dynamic stream): GOF-only decoding on seek, frames sent
once, playback controls, depth images, the CLI's routing and errors, and the page in
headless Chromium at two times and in depth mode."""
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gscodec.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
import moving_sphere as ms  # noqa: E402

from gscodec.viewer.dynamic import DynamicSource, is_dynamic  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("player") / "ball.gsz"
    path.write_bytes(ms.encode())
    return path


def _player(path, **kw):
    pytest.importorskip("viser")
    from gscodec.viewer.app import free_port
    from gscodec.viewer.player import Player

    return Player([DynamicSource.load(path)], port=free_port(), verbose=False, **kw)


def _ball(src: DynamicSource, frame: int) -> torch.Tensor:
    """Centre of the red splats at `frame` (the decoded order is Morton, not the input's)."""
    s = src.frame_splats(frame)
    red = (s.sh_dc[:, 0] > s.sh_dc[:, 1] + 1.0)
    return s.means[red].mean(0)


def test_source_index_and_gof_only_decoding(stream):
    src = DynamicSource.load(stream)
    assert (src.n_frames, src.fps) == (ms.N_FRAMES, ms.FPS) and len(src.index) == 2
    rows = src.gof_rows()
    assert sum(r["bytes"] for r in rows) < stream.stat().st_size  # sections only, no header
    assert all(r["mbps"] == pytest.approx(8 * r["bytes"] / ((r["frames"][1] - r["frames"][0]) / ms.FPS) / 1e6)
               for r in rows)
    last = ms.N_FRAMES - 1
    assert src.gof_of(last) == 1 and src.decoded == []
    x = float(_ball(src, last)[0])
    assert src.decoded == [1], "seeking to the last frame decoded more than its GOF"
    assert x == pytest.approx(ms.ball_x(last), abs=0.05)
    src.frame_splats(last - 1)  # same GOF: cached
    assert src.decoded == [1]
    assert float(_ball(src, 0)[0]) == pytest.approx(ms.ball_x(0), abs=0.05)
    assert src.decoded == [1, 0]
    with pytest.raises(InputError, match="outside"):
        src.frame_splats(ms.N_FRAMES)


def test_frames_are_sent_once_and_toggled(stream):
    with _player(stream) as p:
        assert list(p.sent_bytes) == [(0, 0)]
        n0 = len(p.sources[0].frame_splats(0))
        per_splat = p.sent_bytes[(0, 0)] / n0
        assert per_splat == int(per_splat) and per_splat > 0  # a fixed packed layout per splat
        p.seek(4)
        assert p.sources[0].decoded == [0, 1]
        node4 = p._nodes[(0, 4)]
        p.seek(0)
        p.seek(4)
        assert p._nodes[(0, 4)] is node4 and len(p.sent_bytes) == 2, "a revisited frame was sent again"
        assert node4.visible and not p._nodes[(0, 0)].visible
        p.step(1)
        p.step(1)  # loops to frame 0
        assert p.frame == 0
        p.loop = False
        p.step(-1)
        assert p.frame == 0
        p.set_mode("depth")
        assert not any(h.visible for h in p._nodes.values())
        p.set_mode("rgb")
        assert p._nodes[(0, 0)].visible


def test_playback_advances_and_measures_its_rate(stream):
    with _player(stream, rate=4.0) as p:
        p.play()
        deadline = time.monotonic() + 20
        while p.achieved_fps is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        p.pause()
        assert p.achieved_fps is not None and 0 < p.achieved_fps <= 1.5 * ms.FPS * 4.0
        assert len(p.sent_bytes) == ms.N_FRAMES, "playing a loop should have sent every frame"
        assert "achieved" in p._status_md.content


def test_two_streams_share_time_and_toggle(stream, tmp_path):
    pytest.importorskip("viser")
    from gscodec.data.cameras import Camera, look_at
    from gscodec.viewer.app import free_port
    from gscodec.viewer.player import Player

    coarse = tmp_path / "coarse.gsz"
    coarse.write_bytes(ms.encode(quality=1))
    a, b = DynamicSource.load(stream), DynamicSource.load(coarse)
    assert b.info()["bytes"] < a.info()["bytes"]
    with Player([a, b], port=free_port(), verbose=False) as p:
        p.seek(4)
        assert p._shown == {0: 4, 1: 4} and a.decoded == b.decoded == [0, 1]
        assert p._nodes[(0, 4)].visible and not p._nodes[(1, 4)].visible
        p.set_show(1)
        assert not p._nodes[(0, 4)].visible and p._nodes[(1, 4)].visible and p.frame == 4
        assert p._show_dd.value.startswith("B:")
        p.set_show(-1)
        assert p._nodes[(0, 4)].visible and p._nodes[(1, 4)].visible
        assert p._nodes[(0, 4)].position[0] != p._nodes[(1, 4)].position[0]
        cam = Camera.from_fov(40, 30, 0.9, look_at((0.0, -4.0, 2.5), (0, 0, 0), (0, 0, 1)))
        both = p.depth_image(cam)
        p.set_show(0)
        alone = p.depth_image(cam)
    assert both.shape == alone.shape == (30, 40, 3) and not np.array_equal(both, alone)


def test_depth_image_is_colour_mapped_by_distance(stream):
    from gscodec.data.cameras import Camera, look_at
    from gscodec.viewer.depth import colourize

    with _player(stream) as p:
        eye = np.array([0.0, -3.0, 2.0])
        cam = Camera.from_fov(48, 32, 0.9, look_at(tuple(eye), (0, 0, 0), (0, 0, 1)))
        img = p.depth_image(cam)
        r = p.sources[0].render(0, cam)
    assert img.shape == (32, 48, 3) and img.dtype == np.uint8
    covered = r.alpha[..., 0].numpy() > 0.5
    assert covered.any() and (~covered).any()
    assert img[~covered].max() < img[covered].max()  # empty pixels stay dark
    ramp = colourize(np.linspace(1, 2, 50)[None].repeat(2, 0), np.ones((2, 50)))
    assert ramp[0, 0, 0] > ramp[0, 0, 2] and ramp[0, -1, 2] > ramp[0, -1, 0]  # near red, far blue


def test_cli_routes_and_refuses(stream, builtin_ply, tmp_path, capsys):
    """Static files are not dynamic (they open the static viewer); bad combinations of files
    and options end in one line naming the problem, exit code 2."""
    from gscodec.cli import main
    from gscodec.codecs import encode_scene
    from gscodec.viewer.sources import StaticSource

    ply, _ = builtin_ply
    static_gsz = tmp_path / "static.gsz"
    static_gsz.write_bytes(encode_scene(StaticSource.load(ply, progress=False).splats(), "ptc"))
    bad = tmp_path / "bad.gsz"
    bad.write_bytes(b"\x00garbage" * 10)
    damaged, truncated = bytearray(stream.read_bytes()), stream.read_bytes()
    damaged[-len(damaged) // 4] ^= 0xFF
    (tmp_path / "damaged.gsz").write_bytes(damaged)
    (tmp_path / "truncated.gsz").write_bytes(truncated[: len(truncated) // 2])
    assert is_dynamic(stream) and not any(is_dynamic(x) for x in (ply, static_gsz, bad, tmp_path / "nope"))
    cases = [([str(stream), str(ply)], "is not a dynamic stream"),
             ([str(stream), "--frame", "99"], "--frame 99"),
             ([str(stream), "--show", "B"], "needs two files"),
             ([str(stream), "--cameras", "builtin"], "not supported by the player"),
             ([str(ply), "--mode", "depth"], "are for dynamic streams"),
             ([str(tmp_path / "nope.gsz")], "no such file"),
             ([str(bad)], "bad.gsz"),
             ([str(tmp_path / "damaged.gsz")], "CRC"),
             ([str(tmp_path / "truncated.gsz")], "truncated"),
             ([str(tmp_path)], "without scene.gsz")]
    from gscodec.viewer.cli import _scene_file

    run = tmp_path / "run"
    run.mkdir()
    (run / "scene.gsz").write_bytes(stream.read_bytes())
    assert _scene_file(str(run)) == str(run / "scene.gsz") and is_dynamic(_scene_file(str(run)))
    for argv, msg in cases:
        capsys.readouterr()
        assert main(["view", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert msg in err and "\n" not in err and "Traceback" not in err, (argv, err)


def test_busy_port_is_refused_with_an_alternative(stream):
    pytest.importorskip("viser")
    from gscodec.viewer.player import Player

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(InputError, match=r"in use.*--port \d+"):
            Player([DynamicSource.load(stream)], port=s.getsockname()[1], verbose=False)


def _colour_masks(rgb: np.ndarray):
    x = rgb.astype(np.float32) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    return (r > 0.5) & (g < 0.35) & (b < 0.35), (g > 0.35) & (r < 0.35) & (b < 0.35)


@pytest.mark.slow
def test_player_page_at_two_times_and_in_depth(stream, chromium, tmp_path):
    """Start the player, load it in headless Chromium (one page, one camera), capture frame 0,
    seek to the last frame (the other GOF), capture, switch to depth, capture, stop."""
    from scipy.ndimage import binary_dilation

    from gscodec.viewer.app import port_free
    from gscodec.viewer.browser import BrowserPage

    w, h = 800, 600

    def scene(rgb):  # left of the side panel, above the axes gizmo
        return rgb[h // 10: h * 8 // 10, : w * 45 // 100].astype(np.int16)

    def shows(rgb):  # both the ball and the ground are drawn
        red, green = _colour_masks(scene(rgb))
        return red.mean() > 0.005 and green.mean() > 0.05

    p = _player(stream)
    last = ms.N_FRAMES - 1
    try:
        p.start()
        with BrowserPage(p.url, width=w, height=h) as page:
            a = page.capture(tmp_path / "frame0.png", timeout=60, ready=shows)
            p.seek(last)
            b = page.capture(tmp_path / "frame_last.png", timeout=30,
                             ready=lambda x: shows(x) and np.abs(scene(x) - scene(a)).max() > 60)
            p.set_mode("depth")
            d = page.capture(tmp_path / "depth.png", timeout=30,
                             ready=lambda x: not _colour_masks(scene(x))[1].mean() > 0.05)
    finally:
        p.stop()
    print(f"captures in {tmp_path}; bytes sent per frame: {sorted(set(p.sent_bytes.values()))}")
    assert p.sources[0].decoded == [0, 1]
    ra, ga = _colour_masks(scene(a))
    rb, gb = _colour_masks(scene(b))
    cy_a, cx_a = np.argwhere(ra).mean(0)
    cy_b, cx_b = np.argwhere(rb).mean(0)
    assert np.hypot(cx_b - cx_a, cy_b - cy_a) > 0.03 * w, "the ball did not move between the two times"
    assert (ra & rb).sum() < 0.5 * min(ra.sum(), rb.sum())
    margin = np.ones((w // 40 * 2 + 1,) * 2, bool)
    static = ga & gb & ~binary_dilation(ra | rb, margin)
    assert static.mean() > 0.05
    diff = np.abs(scene(b) - scene(a)).max(-1)
    assert np.median(diff[static]) <= 2 and np.mean(diff[static]) < 4, "the static ground changed"
    assert np.mean(diff[binary_dilation(ra | rb) & ~static]) > 30
    dd = np.abs(scene(d) - scene(b)).max(-1)
    assert (dd > 40).mean() > 0.3, "depth mode looks like the RGB view"
    time.sleep(0.5)
    assert port_free("127.0.0.1", p.port), "the server still holds its port"


@pytest.mark.slow
def test_player_command_serves_and_stops_on_ctrl_c(stream, view_until_ctrl_c):
    """`gscodec view STREAM.gsz` in a process: prints the player's URL, Ctrl-C ends it cleanly."""
    pytest.importorskip("viser")
    from gscodec.viewer.app import free_port

    port = free_port()
    lines, rest, code = view_until_ctrl_c([str(stream), "--play"], port, settle=0.5,  # let it play a few frames
                                          env={"OMP_NUM_THREADS": "1"})
    assert any("player" in ln and f":{port}" in ln for ln in lines), "".join(lines)
    assert code == 0 and "Traceback" not in rest, "".join(lines) + rest


@pytest.mark.slow
def test_measure_playback_reports_rates_and_bytes(stream, chromium, capsys):
    """`gscodec view X.gsz --measure S`: one JSON line with the rates reached and the bytes
    each frame cost on the way to the browser (every frame sent once in a loop)."""
    import json

    from gscodec.cli import main

    assert main(["view", str(stream), "--measure", "1.5"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    src = DynamicSource.load(stream)
    sizes = [len(src.frame_splats(f)) for f in range(src.n_frames)]
    assert r["frames_sent"] == src.n_frames and r["target_fps"] == ms.FPS
    assert r["bytes_sent"] % sum(sizes) == 0 and r["bytes_sent"] > 0  # a whole number of bytes per splat
    assert r["achieved_fps"] > 0 and r["browser_fps"] > 0 and r["gof_decodes"] == len(src.index)
