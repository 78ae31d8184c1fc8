"""Predict-GS on the anchor framework: the residual switch (heads at zero: the render does not
move at the switch), the cosine view schedule, and a tiny run coded by `predict-gs`: bits as
estimated, a fresh process decodes the same symbols and render, SFP and MGRD as storage rows."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gscodec.codecs import decode_bytes
from gscodec.codecs.info import gsz_summary
from gscodec.codecs.predict_gs import PredictGSCodec
from gscodec.entropy.hac import HacConfig, HacEntropyModel
from gscodec.errors import InputError
from gscodec.models.predict_gs import RESIDUAL_DIM, PredictGSModel
from gscodec.models.scaffold import ScaffoldModel
from gscodec.scene.renderable import renderable
from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer, ViewScale

sys.path.insert(0, str(Path(__file__).parent))
from fresh_decode import decode_in_fresh_process  # noqa: E402
from tiny import tiny_config  # noqa: E402

TINY_HAC = tiny_config(RESIDUAL_DIM)


@pytest.fixture(scope="module")
def trained(ds):
    torch.manual_seed(0)
    cfg = ScaffoldConfig.scaled(60, voxel_size=0.25, feat_dim=8, n_offsets=4)
    t = ScaffoldTrainer(ds, cfg, entropy_model=HacEntropyModel(HacConfig(**TINY_HAC)), model_class=PredictGSModel,
                        phases=cfg.phases(PredictGSCodec().training_phases(cfg)),
                        view_scale=PredictGSCodec().training_view_scale(cfg))
    assert t.phase(10) == "residual" and t.mode(10) == "noise"  # the added phase keeps HAC's mode
    t.train(progress=False)
    assert t.model.residual and t.model.mlp_shape[2].weight.abs().sum() > 0  # stage 2 ran and trained
    return t


def test_view_scale_follows_the_papers_cosine():
    v = ViewScale(0.7, 90)
    assert v.at(0) == pytest.approx(0.7) and v.at(45) == pytest.approx(0.85) and v.at(90) == v.at(500) == 1.0
    assert ViewScale(0.7, 90, "linear").at(30) == pytest.approx(0.8) and ViewScale(0.7, 90, "none").at(0) == 1.0
    assert v.at(10) < ViewScale(0.7, 90, "linear").at(10)  # cosine stays coarse longer early on
    assert ViewScale(0.7, 90, "fixed").at(89) == pytest.approx(0.7) and ViewScale(0.7, 90, "fixed").at(90) == 1.0


def test_ablation_options_shape_the_schedule_only():
    cfg = ScaffoldConfig.scaled(300)
    assert [p.start for p in PredictGSCodec().training_phases(cfg)] == [50]  # 5k of 30k
    assert [p.start for p in PredictGSCodec(residual="always").training_phases(cfg)] == [0]
    assert PredictGSCodec(residual="off").training_phases(cfg) == ()
    assert PredictGSCodec(downsample="none").training_view_scale(cfg) is None
    fixed = PredictGSCodec(downsample="fixed").training_view_scale(cfg)  # the paper's "Non": until stage 2
    assert (fixed.shape, fixed.steps) == ("fixed", 50)
    with pytest.raises(InputError, match="residual must be"):
        PredictGSCodec(residual="sometimes")


def test_switching_the_residual_on_leaves_the_render_unchanged(ds):
    m = PredictGSModel.from_points(ds.points, voxel_size=0.25, feat_dim=8, n_offsets=4)
    with torch.no_grad():
        m.features.normal_()
    cam = ds.cameras[0]
    assert not m.residual
    with torch.no_grad():
        before = m.render(cam).image
        m.on_switches(frozenset({"residual"}))
        assert torch.equal(m.render(cam).image, before)  # heads start at zero
        m.mlp_appearance[2].bias.fill_(0.5)
        assert not torch.allclose(m.render(cam).image, before)  # and then they act


def test_predict_gs_codes_and_a_fresh_process_decodes_the_same(trained, ds, tmp_path):
    codec = PredictGSCodec()
    data = codec.encode(trained.result_scene())
    units = {"feature": len(trained.entropy_model.cfg.feature_chunks), "scaling": 1, "offsets": 1}
    # coded = the coder's model cost (0.5% + 64 bits of framing per unit), never above the
    # training estimate; the estimate can be higher here: 40 rate steps leave wide scaling
    # scales whose mass beyond the symbol range the coder does not pay (plain HAC alike)
    for g, b in codec.last_stats["bits"].items():
        assert abs(b["coded"] - b["model"]) <= 0.005 * b["model"] + 64 * units[g], (g, b)
        assert b["coded"] <= 1.005 * b["estimated"] + 64 * units[g], (g, b)
    groups = {r["group"]: r["bytes"] for r in gsz_summary(data)["groups"]}
    assert groups["SFP"] > 0 and groups["MGRD"] > 0 and sum(groups.values()) == len(data)
    cam = ds.cameras[ds.test_indices[0]]
    sym, img = decode_in_fresh_process(data, cam, tmp_path)
    other = {"sym": sym, "img": img}
    for k, v in PredictGSCodec.decode_symbols(data).items():
        assert np.array_equal(np.asarray(v), other["sym"][k].numpy()), k
    model = ScaffoldModel.from_anchor_scene(decode_bytes(data))
    assert type(model) is PredictGSModel and model.residual and model.feat_dim == RESIDUAL_DIM
    with torch.no_grad():
        assert torch.equal(model.render(cam, backend="cpu").image, other["img"])
    # the seam evaluation and `gscodec view` draw through: the predicted Gaussians of the camera
    splats = renderable(decode_bytes(data)).splats(cam)
    assert len(splats) == len(model.neural_gaussians(cam)) > 0


def test_a_checkpoint_keeps_the_pool_s_latent_values(trained, tmp_path):
    """The stream stores the pool's signs; a checkpoint keeps the float values training moves."""
    trained.save_checkpoint(tmp_path / "c.pt")
    again = ScaffoldTrainer.resume(trained.ds, tmp_path / "c.pt")
    assert type(again.model) is PredictGSModel
    for a, b in zip(trained.model.pool._tables(), again.model.pool._tables()):
        assert torch.equal(a, b) and not bool((a.abs() == 1).all())
    assert torch.equal(trained.model.pool.lo, again.model.pool.lo)
