"""ptc's importance refinement (codecs/ptc/refine.py): refined values stay inside their base
cell and get closer to the original, the splats that matter most get the extra bits, the
weights use only exact arithmetic, and a stream without its thresholds is refused."""
import numpy as np
import pytest

from gscodec.codecs import decode_bytes, get_codec
from gscodec.codecs.info import gsz_summary
from gscodec.codecs.ptc import refine
from gscodec.coding import container
from gscodec.errors import CorruptStreamError, InputError
from gscodec.scene import GaussianScene


def test_symbols_tile_the_base_cell_and_the_error_shrinks_with_each_bit():
    rng = np.random.default_rng(0)
    step = np.array([0.1, 0.02, 1.0, 0.0])  # a degenerate channel (step 0) too
    x = rng.uniform(0, 5, (4000, 4))
    x[:, 3] = 1.5
    base = np.round(x / np.where(step > 0, step, 1)) * step
    base[:, 3] = 1.5
    r = rng.integers(0, 4, len(x))
    e = refine.residuals(x, base, step, r)
    assert e.min() >= 0 and np.all(e < (1 << r)[:, None])
    out = refine.apply(base, step, r, e)
    err = np.abs(out - x)
    assert np.all(err <= step / 2 ** (r[:, None] + 1) + 1e-5)
    assert np.all(out[r == 0] == base[r == 0].astype(np.float32))
    for k in (1, 2, 3):  # every part of the cell is used: the symbols are uniform, r bits each
        assert len(np.unique(e[r == k, 0])) == 1 << k


def test_log2_uses_exact_arithmetic_and_is_close():
    x = np.geomspace(1e-6, 1e6, 5001)
    assert np.abs(refine._log2(x) - np.log2(x)).max() < 0.09
    w = refine.log2_weights(np.array([[0.9], [0.9], [0.01]]), np.log(np.array([[1, 2, 3], [0.1, 0.1, 0.1], [1, 2, 3]])))
    assert w["sh_dc"][0] > w["sh_dc"][1] and w["sh_dc"][0] > w["sh_dc"][2]  # big and opaque matters most
    assert w["positions"][0] == w["positions"][1] > w["positions"][2]  # a shift costs the same at any size
    r = refine.extra_bits(np.array([-5.0, 0.0, 1.0, 3.0, 40.0]), 0.0, 3)
    assert r.tolist() == [0, 0, 1, 2, 3]


def _scene(n=1500):
    s = GaussianScene.random(n, sh_degree=1, seed=5)
    s.opacity_logits = s.opacity_logits.clamp(-4, 6)
    return s


def test_default_preset_refines_the_important_splats_of_the_uniform_grid():
    from scipy.spatial import cKDTree

    scene = _scene()
    refined = get_codec("ptc", quality=3)
    plain = get_codec("ptc", preset="uniform", quality=2)  # the same base grids, nothing refined
    assert refined.config.bits == plain.config.bits and refined.config.position_bits == plain.config.position_bits
    data, base = refined.encode(scene), plain.encode(scene)
    names = [r["name"] for r in gsz_summary(data)["sections"]]
    assert {"refine.positions.1", "refine.sh_dc.1"} <= set(names), names
    assert len(base) < len(data)
    ch = refine.log2_weights(scene.opacity_logits.sigmoid()[:, None].numpy(), scene.log_scales.numpy())
    top = np.argsort(-ch["sh_dc"])[: len(scene) // 10]
    errs = []
    for stream in (data, base):
        out = decode_bytes(stream)
        _, idx = cKDTree(out.means.numpy()).query(scene.means.numpy())
        errs.append(np.abs(out.sh_dc.numpy()[idx] - scene.sh_dc.numpy()))
    half_step = (scene.sh_dc.numpy().max(0) - scene.sh_dc.numpy().min(0)) / (2 ** plain.config.bits["sh_dc"] - 1) / 2
    assert np.all(errs[0] <= half_step + 1e-5) and np.all(errs[1] <= half_step + 1e-5)  # inside the base cell
    assert errs[0][top].mean() < 0.5 * errs[1][top].mean()  # the top tenth got at least one more bit


def test_a_stream_without_its_thresholds_or_a_refinement_section_is_refused():
    header, sections = container.unpack(get_codec("ptc").encode(_scene(300)))
    no_refine = {k: v for k, v in header.items() if k != "refine"}
    with pytest.raises(CorruptStreamError, match="ptc header is incomplete"):
        decode_bytes(container.pack(no_refine, list(sections.values())))
    partial = {**header, "refine": {k: v for k, v in header["refine"].items() if k != "sh_dc"}}
    with pytest.raises(CorruptStreamError, match="ptc header is incomplete"):
        decode_bytes(container.pack(partial, list(sections.values())))
    kept = [s for name, s in sections.items() if name != "refine.quats.1"]
    with pytest.raises(CorruptStreamError, match="lacks section 'refine.quats.1'"):
        decode_bytes(container.pack(header, kept))


def test_settings_out_of_range_are_clear_errors():
    with pytest.raises(InputError, match="refine_max"):
        get_codec("ptc", refine_max=7)
    with pytest.raises(InputError, match="refine_quantile"):
        get_codec("ptc", refine_quantile=1.5)
