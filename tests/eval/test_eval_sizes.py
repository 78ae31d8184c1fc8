"""`gscodec eval` says what it compares and reports sizes honestly (#23 item 4): a decoded PLY's
size is never printed as the compressed size (it was: '0.8x'); the ratio comes from a .gsz -
the decoded file itself, or the one named by --gsz."""
import json

import pytest

from gscodec.cli import main
from gscodec.scene import GaussianScene, save_ply


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sizes")
    scene = GaussianScene.random(300, sh_degree=1, seed=5)
    scene.opacity_logits.clamp_(-3, 5)
    save_ply(scene, d / "orig.ply")
    assert main(["encode", str(d / "orig.ply"), "-o", str(d / "s.gsz")]) == 0
    assert main(["decode", str(d / "s.gsz"), "-o", str(d / "dec.ply")]) == 0
    return d


def _eval(capsys, d, *argv):
    capsys.readouterr()
    assert main(["eval", *map(str, argv), "--orbit", "2", "--resolution", "16", "--json", str(d / "r.json")]) == 0
    return capsys.readouterr().out, json.loads((d / "r.json").read_text())


def test_a_decoded_ply_gets_no_ratio_from_its_own_size(files, capsys):
    d = files
    out, r = _eval(capsys, d, d / "orig.ply", d / "dec.ply")
    assert r["ratio"] is None and r["compressed_bytes"] is None and r["decoded_format"] == "ply"
    assert "the PLY dec.ply against the PLY orig.ply" in out
    size = next(line for line in out.splitlines() if line.startswith("size"))
    assert "x)" not in size and "not a compressed size" in size and "--gsz" in size


def test_the_ratio_uses_the_gsz_given_or_decoded(files, capsys):
    d = files
    ply, gsz = (d / "orig.ply").stat().st_size, (d / "s.gsz").stat().st_size
    out, r = _eval(capsys, d, d / "orig.ply", d / "dec.ply", "--gsz", d / "s.gsz")
    assert r["compressed_bytes"] == gsz and r["ratio"] == ply / gsz and r["decoded_bytes"] != gsz
    assert f"-> {gsz:,} B (.gsz, s.gsz; {ply / gsz:.1f}x)" in out
    out, r = _eval(capsys, d, d / "orig.ply", d / "s.gsz")
    assert r["compressed_bytes"] == r["decoded_bytes"] == gsz and r["ratio"] == ply / gsz
    assert "the .gsz s.gsz against the PLY orig.ply" in out and f"-> {gsz:,} B (.gsz; {ply / gsz:.1f}x)" in out


def test_gsz_must_be_a_gsz(files):
    from gscodec.errors import InputError
    from gscodec.eval.compare import compressed_file, load_any

    test = load_any(files / "dec.ply")
    with pytest.raises(InputError, match="a PLY, not a .gsz"):
        compressed_file(test, files / "orig.ply")
    with pytest.raises(InputError, match="no such file"):
        compressed_file(test, files / "missing.gsz")
