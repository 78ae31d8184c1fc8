"""HAC end to end: a tiny Scaffold-GS + HAC training -> .gsz -> a fresh process decodes the
same symbols and renders the same image; the whole run writes its files and metrics."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gscodec.codecs import decode_bytes, get_codec
from gscodec.codecs.hac import HacCodec
from gscodec.entropy.hac import HacConfig, HacEntropyModel
from gscodec.models.scaffold import render_anchor_scene
from gscodec.scene import AnchorScene, load_ply
from gscodec.train.anchor_run import train_and_compress_anchors
from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer

sys.path.insert(0, str(Path(__file__).parent))
from fresh_decode import decode_in_fresh_process  # noqa: E402
from tiny import tiny_config  # noqa: E402

TINY_HAC = tiny_config(8)


@pytest.fixture(scope="module")
def trained(ds):
    torch.manual_seed(0)
    # grow every 10 steps (the rule's floor is 100): a 30-step run that grows and prunes anchors
    cfg = ScaffoldConfig.scaled(30, voxel_size=0.25, feat_dim=8, n_offsets=4, grow_every=10)
    t = ScaffoldTrainer(ds, cfg, entropy_model=HacEntropyModel(HacConfig(**TINY_HAC)))
    t.train(progress=False)
    assert t.phase(t.step - 1) == "context"  # the whole schedule ran
    return t.result_scene()


def test_fresh_process_decodes_the_same_symbols_and_render(trained, ds, tmp_path):
    codec = HacCodec()
    data = codec.encode(trained)
    cam = ds.cameras[ds.test_indices[0]]
    sym, other_img = decode_in_fresh_process(data, cam, tmp_path)
    other = {"sym": sym, "img": other_img}
    here = HacCodec.decode_symbols(data)
    assert set(other["sym"]) == set(here)
    for k, v in here.items():
        assert np.array_equal(np.asarray(v), other["sym"][k].numpy()), k
    for k in ("masks", "positions"):  # and they are the encoder's own symbols
        assert np.array_equal(np.asarray(here[k]), codec.last_symbols[k]), k
    img = render_anchor_scene(decode_bytes(data), cam, backend="cpu").image
    assert torch.equal(img, other["img"])
    # coded bits within 0.5% of the model's estimate (issue #6's goal)
    for g, b in codec.last_stats["bits"].items():
        assert abs(b["coded"] - b["estimated"]) <= 0.005 * b["estimated"] + 64, (g, b)


def test_decoded_scene_renders_close_to_the_trained_one(trained, ds):
    dec = decode_bytes(get_codec("hac").encode(trained))
    assert isinstance(dec, AnchorScene) and dec.entropy_model is None
    cam = ds.cameras[ds.test_indices[0]]
    a = render_anchor_scene(trained.detach(), cam, backend="cpu").image
    b = render_anchor_scene(dec, cam, backend="cpu").image
    mse = float(((a - b) ** 2).mean())
    assert -10 * np.log10(max(mse, 1e-12)) > 25  # quantization changes it only a little


def test_whole_anchor_run_writes_gsz_ply_and_metrics(ds, tmp_path):
    cfg = ScaffoldConfig.scaled(20, voxel_size=0.25, feat_dim=8, n_offsets=4)
    res = train_and_compress_anchors(ds, cfg, tmp_path, codec_config={"lambda_rate": 0.004, "hac": TINY_HAC},
                                     progress=False, export_sh_degree=1)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["compressed"]["bytes"] == (tmp_path / "scene.gsz").stat().st_size
    assert m["uncompressed"]["bytes"] > m["compressed"]["bytes"]  # scaffold-raw is larger
    ply = load_ply(tmp_path / "scene.ply")
    assert ply.sh_degree == 1 and len(ply) == m["export"]["gaussians"] > 0
    assert np.isfinite(m["export"]["fit_loss_db"]) and res.comparison_png.is_file()
    assert m["lambda_rate"] == 0.004


def test_context_mlp_precision_is_recorded_and_both_decode(trained):
    small = get_codec("hac").encode(trained)
    big = get_codec("hac", context_dtype="float32").encode(trained)
    assert len(big) > len(small)
    for data in (small, big):
        dec = decode_bytes(data)
        assert len(dec) > 0 and torch.isfinite(dec.features).all()


def test_an_anchor_run_reports_lpips_when_weights_are_given(tmp_path, monkeypatch):
    """#21: the anchor runs' LPIPS (the static runs' loop never reached them): given weights,
    metrics.json has the decoded test views' LPIPS; without, None and the reason."""
    from gscodec.data.synthetic import load_builtin
    from gscodec.metrics import LPIPSAlex

    monkeypatch.delenv("GSCODEC_LPIPS_WEIGHTS", raising=False)
    ds32 = load_builtin(resolution=32, n_views=6, cache_dir=tmp_path / "builtin")  # AlexNet needs >= 31 px
    torch.save(LPIPSAlex().state_dict(), tmp_path / "alex.pth")
    cfg = ScaffoldConfig.scaled(10, voxel_size=0.25, feat_dim=8, n_offsets=4)
    for weights in (str(tmp_path / "alex.pth"), None):
        run = tmp_path / f"run-{weights is not None}"
        train_and_compress_anchors(ds32, cfg, run, codec_config={"hac": TINY_HAC}, progress=False,
                                   export_sh_degree=0, lpips_weights=weights)
        m = json.loads((run / "metrics.json").read_text())
        if weights:
            assert np.isfinite(m["lpips"]) and "lpips_note" not in m
        else:
            assert m["lpips"] is None and "no weights" in m["lpips_note"]
