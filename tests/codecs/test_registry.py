"""The codec registry: public lookup, and options a codec does not take are one-line errors."""
import subprocess
import sys

import pytest

from gscodec.codecs import get_codec
from gscodec.codecs.registry import codec_class
from gscodec.errors import InputError


def test_lookup_and_unknown_codec():
    assert codec_class("hac").representation == "anchors"
    with pytest.raises(InputError, match="unknown codec 'nope'; available: .*hac"):
        codec_class("nope")


@pytest.mark.parametrize("name, options, match", [
    ("scaffold-raw", {"quality": 3}, "has no option quality"),
    ("hac", {"quality": 3}, "unknown hac codec options: quality"),
    ("static-gscodec", {"preset": "x"}, "has no option preset"),
    ("ptc", {"lambda_rate": 0.1}, "ptc has no option lambda_rate"),
])
def test_options_that_do_not_apply_are_refused(name, options, match):
    with pytest.raises(InputError, match=match):
        get_codec(name, **options)


def test_train_quality_with_hac_is_one_line():
    r = subprocess.run([sys.executable, "-m", "gscodec.cli", "train", "builtin:16", "--codec", "hac", "--quality", "2",
                        "-o", "/nonexistent/run"], capture_output=True, text=True)
    assert r.returncode == 2 and "--quality does not apply to --codec hac" in r.stderr and "Traceback" not in r.stderr


def test_encode_with_a_codec_that_needs_training_is_one_line(tmp_path):
    from gscodec.scene import GaussianScene, save_ply

    save_ply(GaussianScene.random(20, sh_degree=0), tmp_path / "s.ply")
    for codec, want in (("static-gscodec", "needs a scene trained with compression simulation"),
                        ("hac", "anchor codecs encode an AnchorScene")):
        r = subprocess.run([sys.executable, "-m", "gscodec.cli", "encode", str(tmp_path / "s.ply"), "--codec", codec,
                            "-o", str(tmp_path / "o.gsz")], capture_output=True, text=True)
        assert r.returncode == 2 and want in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o.gsz").exists()
