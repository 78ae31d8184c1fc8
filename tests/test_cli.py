"""The `gscodec` command end to end: verbs, outputs, and one-line errors with exit status 2."""
import subprocess
import sys

import plyfile
import pytest

from gscodec.cli import main
from gscodec.scene import GaussianScene, load_ply, save_ply


def run(*args):
    return subprocess.run([sys.executable, "-m", "gscodec.cli", *map(str, args)], capture_output=True, text=True)


def test_help_lists_verbs():
    r = run("--help")
    assert r.returncode == 0
    for verb in ("info", "make-scene", "demo", "encode", "decode", "eval", "train", "view", "bench", "report"):
        assert verb in r.stdout


def test_make_scene_then_info(tmp_path, capsys):
    assert main(["make-scene", str(tmp_path / "s"), "--views", "8", "--resolution", "32"]) == 0
    assert (tmp_path / "s" / "transforms_train.json").is_file()
    scene = GaussianScene.random(50, sh_degree=2)
    save_ply(scene, tmp_path / "x.ply")
    assert main(["info", str(tmp_path / "x.ply")]) == 0
    out = capsys.readouterr().out
    assert "splats      50" in out and "SH degree   2" in out and "log_scales" in out
    # the PLY gscodec wrote loads in plyfile with the standard names
    assert "f_rest_0" in plyfile.PlyData.read(str(tmp_path / "x.ply"))["vertex"].data.dtype.names


def test_encode_info_decode_eval(tmp_path, capsys):
    scene = GaussianScene.random(400, sh_degree=1, seed=3)
    scene.opacity_logits.clamp_(-3, 5)
    save_ply(scene, tmp_path / "in.ply")
    assert main(["encode", str(tmp_path / "in.ply"), "-o", str(tmp_path / "s.gsz")]) == 0
    assert main(["info", str(tmp_path / "s.gsz")]) == 0
    out = capsys.readouterr().out
    assert "positions" in out and "share" in out and "codec          ptc" in out
    assert main(["decode", str(tmp_path / "s.gsz"), "-o", str(tmp_path / "out.ply")]) == 0
    assert len(load_ply(tmp_path / "out.ply")) == 400
    assert main(["eval", str(tmp_path / "in.ply"), str(tmp_path / "s.gsz"), "--orbit", "2",
                 "--resolution", "32", "--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "PSNR" in out and (tmp_path / "e.json").is_file()


def test_errors_are_one_line_exit_2(tmp_path):
    (tmp_path / "bad.ply").write_bytes(b"not a ply at all")
    r = run("info", tmp_path / "bad.ply")
    assert r.returncode == 2 and "neither a .ply nor a .gsz" in r.stderr and "Traceback" not in r.stderr
    r = run("encode", tmp_path / "bad.ply", "-o", tmp_path / "o.gsz")
    assert r.returncode == 2 and "not a PLY" in r.stderr and "Traceback" not in r.stderr
    r = run("decode", tmp_path / "missing.gsz", "-o", tmp_path / "o.ply")
    assert r.returncode == 2 and "no such file" in r.stderr
    (tmp_path / "bad.gsz").write_bytes(b"GSZ\x00" + b"\x01" * 40)
    r = run("decode", tmp_path / "bad.gsz", "-o", tmp_path / "o.ply")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not (tmp_path / "o.ply").exists()
    r = run("encode", tmp_path / "bad.ply", "-o", tmp_path / "o.gsz", "--quality", "9")
    assert r.returncode == 2 and not (tmp_path / "o.gsz").exists()


def test_corrupt_gsz_leaves_no_output(tmp_path):
    scene = GaussianScene.random(100)
    scene.opacity_logits.clamp_(-3, 5)
    save_ply(scene, tmp_path / "in.ply")
    assert main(["encode", str(tmp_path / "in.ply"), "-o", str(tmp_path / "s.gsz")]) == 0
    data = bytearray((tmp_path / "s.gsz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "c.gsz").write_bytes(bytes(data))
    assert main(["decode", str(tmp_path / "c.gsz"), "-o", str(tmp_path / "c.ply")]) == 2
    assert not (tmp_path / "c.ply").exists()


@pytest.mark.parametrize("verb", ["info", "encode"])
def test_real_samples(shared_data, tmp_path, verb):
    args = [verb, str(shared_data / "guitar.ply")] + (["-o", str(tmp_path / "g.gsz")] if verb == "encode" else [])
    assert main(args) == 0


def test_a_bad_codec_option_is_refused_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "builtin", "-o", str(out), "--codec", "predict-gs", "--codec-option", "residual=maybe"]) == 2
    assert "residual must be" in capsys.readouterr().err and not out.exists()
    assert main(["train", "builtin", "-o", str(out), "--codec", "hac", "--codec-option", "residual"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_output_paths_are_checked_and_get_the_umask(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    ply = tmp_path / "in.ply"
    save_ply(GaussianScene.random(30, sh_degree=0), ply)
    before = ply.read_bytes()
    r = run("encode", ply, "-o", ply)
    assert r.returncode == 2 and "is also the input" in r.stderr and ply.read_bytes() == before
    r = run("encode", ply, "-o", tmp_path)
    assert r.returncode == 2 and "is a directory" in r.stderr
    (tmp_path / "f").write_text("x")
    r = run("encode", ply, "-o", tmp_path / "f" / "out.gsz")
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr
    old = os.umask(0o022)
    try:
        assert main(["encode", str(ply), "-o", str(tmp_path / "o.gsz")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "o.gsz").stat().st_mode & 0o777 == 0o644
    # SIGTERM during a write leaves no temporary file behind
    code = ("import sys, time, gscodec.cli as c; from gscodec.utils.io import atomic_open\n"
            "c._sigterm_interrupts(); print('ready', flush=True)\n"
            "try:\n    with atomic_open(sys.argv[1]) as f:\n        f.write(b'x'); time.sleep(30)\n"
            "except KeyboardInterrupt:\n    sys.exit(130)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "t.bin")], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == 130 and not list(tmp_path.glob(".t.bin.*")) and not (tmp_path / "t.bin").exists()


def test_decode_refuses_a_stream_above_max_splats(tmp_path):
    save_ply(GaussianScene.random(40, sh_degree=0), tmp_path / "in.ply")
    assert main(["encode", str(tmp_path / "in.ply"), "-o", str(tmp_path / "s.gsz")]) == 0
    r = run("decode", tmp_path / "s.gsz", "-o", tmp_path / "o.ply", "--max-splats", "10")
    assert r.returncode == 2 and "declares 40 Gaussians, above the limit of 10" in r.stderr
    assert not (tmp_path / "o.ply").exists()
    assert main(["decode", str(tmp_path / "s.gsz"), "-o", str(tmp_path / "o.ply"), "--max-splats", "40"]) == 0


def test_encode_says_properties_it_cannot_carry_are_dropped(tmp_path, capsys):
    import numpy as np

    from gscodec.scene.ply import scene_to_structured

    data = scene_to_structured(GaussianScene.random(60, seed=2))
    extra = np.zeros(60, dtype=data.dtype.descr + [("semantic_id", "<f4")])
    for n in data.dtype.names:
        extra[n] = data[n]
    plyfile.PlyData([plyfile.PlyElement.describe(extra, "vertex")]).write(str(tmp_path / "e.ply"))
    assert main(["encode", str(tmp_path / "e.ply"), "-o", str(tmp_path / "e.gsz")]) == 0
    out = capsys.readouterr().out
    assert "dropped: semantic_id" in out and "kept" not in out


def test_encode_reaches_any_codec_option_and_refuses_flags_that_do_not_apply(tmp_path, capsys):
    """#21: every codec option is reachable (--codec-option KEY=VALUE), and a flag that does not
    apply to what runs is a one-line error, not ignored."""
    from gscodec.coding import container

    save_ply(GaussianScene.random(200, sh_degree=1, seed=1), tmp_path / "in.ply")
    out = tmp_path / "s.gsz"
    base = ["encode", str(tmp_path / "in.ply"), "-o", str(out)]
    assert main(base + ["--codec-option", "position_bits=12"]) == 0
    assert container.unpack(out.read_bytes())[0]["config"]["position_bits"] == 12
    assert main(["decode", str(out), "-o", str(tmp_path / "d.ply"), "--sh-degree", "0"]) == 2  # not an anchor stream
    assert "applies to anchor streams" in capsys.readouterr().err and not (tmp_path / "d.ply").exists()
    out.unlink()
    for extra, says in ((["--codec-option", "bogus=1"], "bogus"),
                        (["--quality", "2", "--codec-option", "quality=3"], "set by its own flag"),
                        (["--target-views", "3"], "apply to --target-psnr only"),
                        (["--target-psnr", "40", "--codec-option", "quality=3"], "without --quality")):
        assert main(base + extra) == 2
        assert says in capsys.readouterr().err and not out.exists()
    assert main(["train", "builtin", "-o", str(tmp_path / "run"), "--codec", "ptc", "--gof", "10"]) == 2
    assert "--gof applies to dynamic codecs" in capsys.readouterr().err and not (tmp_path / "run").exists()
