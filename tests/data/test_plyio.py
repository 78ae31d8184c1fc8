"""Point-cloud PLYs on plyfile: binary round trip, ascii, no colour, and refusals."""
import numpy as np
import pytest

from gscodec.data.plyio import read_points_ply, write_points_ply
from gscodec.errors import InputError


def test_round_trip_ascii_and_refusals(tmp_path):
    xyz = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    rgb = np.linspace(0, 1, 150).reshape(50, 3)
    write_points_ply(tmp_path / "p.ply", xyz, rgb)
    head = (tmp_path / "p.ply").read_bytes()[:200]
    assert head.startswith(b"ply\nformat binary_little_endian 1.0\nelement vertex 50\nproperty float x\n")
    x2, c2 = read_points_ply(tmp_path / "p.ply")
    assert np.array_equal(x2, xyz) and np.abs(c2 - rgb).max() <= 0.5 / 255 + 1e-6
    (tmp_path / "a.ply").write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty double x\nproperty double y\n"
                                    "property double z\nend_header\n1 2 3\n4 5 6\n")
    xa, ca = read_points_ply(tmp_path / "a.ply")
    assert xa.tolist() == [[1, 2, 3], [4, 5, 6]] and np.all(ca == 0.5)  # grey without colour
    (tmp_path / "big.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1000000000000\nproperty float x\n"
                                      "property float y\nproperty float z\nend_header\n1 2 3\n")
    with pytest.raises(InputError, match="more than the file can hold"):
        read_points_ply(tmp_path / "big.ply")
    (tmp_path / "noxyz.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n")
    with pytest.raises(InputError, match="no x/y/z"):
        read_points_ply(tmp_path / "noxyz.ply")
    (tmp_path / "cut.ply").write_bytes(head[:120] + b"\x00" * 30)
    with pytest.raises(InputError):
        read_points_ply(tmp_path / "cut.ply")
