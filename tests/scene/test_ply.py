"""INRIA PLY I/O: bit-exact round trips, plyfile compatibility, malformed input errors."""
import numpy as np
import plyfile
import pytest
import torch

from gscodec.errors import InputError
from gscodec.scene import GaussianScene, load_ply, save_ply
from gscodec.scene.ply import PlyWarning


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_bit_exact(tmp_path, degree):
    scene = GaussianScene.random(257, sh_degree=degree, seed=degree)
    path = save_ply(scene, tmp_path / "s.ply")
    back = load_ply(path)
    assert back.sh_degree == degree
    assert back.equal(scene)


def test_standard_property_names_in_plyfile(tmp_path):
    scene = GaussianScene.random(10, sh_degree=3)
    path = save_ply(scene, tmp_path / "s.ply")
    ply = plyfile.PlyData.read(str(path))
    names = list(ply["vertex"].data.dtype.names)
    expected = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
                + [f"f_rest_{i}" for i in range(45)]
                + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])
    assert names == expected
    assert ply.byte_order == "<" and not ply.text
    # f_rest is channel-major: f_rest_0..14 are the red coefficients
    np.testing.assert_array_equal(ply["vertex"]["f_rest_1"], scene.sh_rest[:, 1, 0].numpy())
    np.testing.assert_array_equal(ply["vertex"]["f_rest_15"], scene.sh_rest[:, 0, 1].numpy())


def test_extras_are_kept_and_reported(tmp_path):
    scene = GaussianScene.random(5)
    data = __import__("gscodec.scene.ply", fromlist=["x"]).scene_to_structured(scene)
    extra = np.zeros(5, dtype=data.dtype.descr + [("semantic_id", "<f4")])
    for n in data.dtype.names:
        extra[n] = data[n]
    extra["semantic_id"] = np.arange(5)
    plyfile.PlyData([plyfile.PlyElement.describe(extra, "vertex")]).write(str(tmp_path / "e.ply"))
    with pytest.warns(PlyWarning, match="semantic_id"):
        back = load_ply(tmp_path / "e.ply")
    np.testing.assert_array_equal(back.extras["semantic_id"], np.arange(5))
    save_ply(back, tmp_path / "e2.ply")
    with pytest.warns(PlyWarning):
        assert load_ply(tmp_path / "e2.ply").equal(back)


def _write(tmp_path, name, content: bytes):
    p = tmp_path / name
    p.write_bytes(content)
    return p


def test_not_a_ply(tmp_path):
    with pytest.raises(InputError, match="not a PLY"):
        load_ply(_write(tmp_path, "x.ply", b"hello world"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_ply(tmp_path / "nope.ply")


def test_ascii_refused(tmp_path):
    scene = GaussianScene.random(3)
    data = __import__("gscodec.scene.ply", fromlist=["x"]).scene_to_structured(scene)
    plyfile.PlyData([plyfile.PlyElement.describe(data, "vertex")], text=True).write(str(tmp_path / "a.ply"))
    with pytest.raises(InputError, match="ASCII"):
        load_ply(tmp_path / "a.ply")


def test_missing_properties(tmp_path):
    arr = np.zeros(4, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
    plyfile.PlyData([plyfile.PlyElement.describe(arr, "vertex")]).write(str(tmp_path / "m.ply"))
    with pytest.raises(InputError, match="missing properties: f_dc_0"):
        load_ply(tmp_path / "m.ply")


def test_count_larger_than_data(tmp_path):
    path = save_ply(GaussianScene.random(10), tmp_path / "t.ply")
    raw = path.read_bytes().replace(b"element vertex 10", b"element vertex 99")
    with pytest.raises(InputError):
        load_ply(_write(tmp_path, "t2.ply", raw))


def test_truncated_data(tmp_path):
    raw = save_ply(GaussianScene.random(10), tmp_path / "t.ply").read_bytes()
    with pytest.raises(InputError):
        load_ply(_write(tmp_path, "t3.ply", raw[:-7]))


def test_bad_sh_count(tmp_path):
    scene = GaussianScene.random(4, sh_degree=1)
    data = __import__("gscodec.scene.ply", fromlist=["x"]).scene_to_structured(scene)
    keep = [n for n in data.dtype.names if n != "f_rest_8"]
    packed = np.zeros(len(data), dtype=[(n, "<f4") for n in keep])
    for n in keep:
        packed[n] = data[n]
    plyfile.PlyData([plyfile.PlyElement.describe(packed, "vertex")]).write(str(tmp_path / "b.ply"))
    with pytest.raises(InputError, match="f_rest"):
        load_ply(tmp_path / "b.ply")


def test_nan_refused(tmp_path):
    scene = GaussianScene.random(4)
    with pytest.raises(InputError, match="NaN"):
        scene.means[2, 1] = float("nan")
        save_ply(scene, tmp_path / "n.ply")
    assert not (tmp_path / "n.ply").exists()


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "keep.ply"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plyfile.PlyData, "write", boom)
    with pytest.raises(RuntimeError):
        save_ply(GaussianScene.random(3), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.ply"]


def test_real_sample_sh3(shared_data):
    scene = load_ply(shared_data / "small_sh3.ply")
    assert len(scene) == 9080 and scene.sh_degree == 3


def test_real_sample_guitar_inf_opacity(shared_data):
    with pytest.warns(PlyWarning, match="clamped"):
        scene = load_ply(shared_data / "guitar.ply")
    assert len(scene) == 90854 and torch.isfinite(scene.opacity_logits).all()


def test_a_lying_vertex_count_is_refused_or_reported(tmp_path):
    import warnings

    from gscodec.errors import InputError

    save_ply(GaussianScene.random(20, sh_degree=1), tmp_path / "a.ply")
    data = (tmp_path / "a.ply").read_bytes()
    (tmp_path / "big.ply").write_bytes(data.replace(b"element vertex 20", b"element vertex 1099511627776"))
    with pytest.raises(InputError, match="declares 1099511627776 vertices"):
        load_ply(tmp_path / "big.ply")  # before anything is allocated
    (tmp_path / "short.ply").write_bytes(data.replace(b"element vertex 20", b"element vertex 18"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(load_ply(tmp_path / "short.ply")) == 18
    assert any("bytes after the 18 declared vertices are ignored" in str(w.message) for w in caught)


def test_outliers_are_clipped_and_degenerate_rotations_fixed_with_a_note(tmp_path):
    """One splat at 1e30 would stretch the quantization range of all the others; a rotation of
    norm ~0 has no direction. Both are repaired on load, and the note says how many."""
    import warnings

    scene = GaussianScene.random(500, sh_degree=1, seed=3)
    clean = load_ply(save_ply(scene, tmp_path / "clean.ply"))
    assert clean.equal(scene)  # an ordinary scene is untouched
    scene.means[7, 0], scene.log_scales[9, 2], scene.sh_dc[11, 1] = 1e30, -1e30, 1e30
    scene.quats[13] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = load_ply(save_ply(scene, tmp_path / "bad.ply"))
    text = " ".join(str(w.message) for w in caught)
    assert "means 1" in text and "log_scales 1" in text and "sh_dc 1" in text and "1 rotation(s)" in text
    assert back.means.abs().max() < 100 and back.log_scales.abs().max() < 100 and back.sh_dc.abs().max() < 100
    assert torch.equal(back.quats[13], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    keep = torch.ones(500, dtype=torch.bool)
    keep[[7, 9, 11, 13]] = False
    assert torch.equal(back.means[keep], scene.means[keep])  # the rest as they were


@pytest.mark.parametrize("layout", ["big-endian", "double-and-extra", "element-before", "list-property"])
def test_fast_vertex_reader_equals_plyfile(tmp_path, layout):
    """load_ply reads the vertex block in one call (plyfile without mmap took 65 s on 124 MB);
    other layouts, and those it hands to plyfile, give the same scene."""
    import warnings

    from gscodec.scene.ply import scene_to_structured

    scene = GaussianScene.random(33, sh_degree=1, seed=4)
    data = scene_to_structured(scene)
    elements = []
    if layout == "big-endian":
        data = data.astype(data.dtype.newbyteorder(">"))
    elif layout == "double-and-extra":
        wide = [(n, "<f8" if n in ("x", "opacity") else "<f4") for n in data.dtype.names] + [("id", "<u2")]
        out = np.zeros(len(data), dtype=wide)
        for n in data.dtype.names:
            out[n] = data[n]
        out["id"] = np.arange(len(out))
        data = out
    elif layout == "element-before":
        cams = np.zeros(5, dtype=[("v", "<i4")])
        cams["v"] = np.arange(5)
        elements.append(plyfile.PlyElement.describe(cams, "camera"))
    elements.append(plyfile.PlyElement.describe(data, "vertex"))
    if layout == "list-property":
        faces = np.empty(1, dtype=[("vertex_indices", "O")])
        faces["vertex_indices"][0] = np.array([0, 1, 2], "i4")
        elements.append(plyfile.PlyElement.describe(faces, "face"))
    plyfile.PlyData(elements, byte_order=">" if layout == "big-endian" else "<").write(str(tmp_path / "s.ply"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = load_ply(tmp_path / "s.ply")
    for name in ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest"):
        assert torch.equal(getattr(back, name), getattr(scene, name)), name
    if layout == "double-and-extra":
        np.testing.assert_array_equal(back.extras["id"], np.arange(33))
        assert any("id" in str(w.message) for w in caught)
    else:
        assert not back.extras and not caught
