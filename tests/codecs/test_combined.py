"""The `combined` codec is a configuration of three modules (Predict-GS's representation,
HEMGS's entropy model, MoP's mixture as its hyperprior layer): a tiny run codes at two λ
from one model, a fresh process decodes the same symbols and render, and `gscodec info`
shows each part's bytes."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gscodec.cli import main
from gscodec.codecs import decode_bytes, get_codec
from gscodec.codecs.combined import CombinedCodec
from gscodec.codecs.info import gsz_summary
from gscodec.coding import container
from gscodec.entropy.hemgs import HemgsConfig, HemgsEntropyModel
from gscodec.entropy.mixture import MixturePrior
from gscodec.errors import InputError
from gscodec.models.predict_gs import RESIDUAL_DIM, PredictGSModel
from gscodec.models.scaffold import render_anchor_scene
from gscodec.train.anchor_run import save_trained
from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer

sys.path.insert(0, str(Path(__file__).parent))
from fresh_decode import decode_in_fresh_process  # noqa: E402
from tiny import tiny_config  # noqa: E402


@pytest.fixture(scope="module")
def trained(ds):
    codec = CombinedCodec(experts=3)
    torch.manual_seed(0)
    cfg = ScaffoldConfig.scaled(60, voxel_size=0.25, feat_dim=8, n_offsets=4)
    em = HemgsEntropyModel(HemgsConfig(**tiny_config(RESIDUAL_DIM), **codec.model_options()))
    t = ScaffoldTrainer(ds, cfg, entropy_model=em, model_class=CombinedCodec.representation_class,
                        phases=cfg.phases(codec.training_phases(cfg)), view_scale=codec.training_view_scale(cfg))
    t.train(progress=False)
    return t


def test_it_is_the_three_modules_configured():
    c = get_codec("combined")
    assert c.representation_class is PredictGSModel and c.model_class is HemgsEntropyModel
    assert c.model_options()["n_experts"] == 5 and c.residual == "staged" and c.sa and c.ar
    assert get_codec("combined", experts=1, ar=False, residual="always").model_options()["n_experts"] == 1
    with pytest.raises(InputError, match="experts"):
        get_codec("combined", experts=0)
    one = HemgsConfig(**tiny_config(RESIDUAL_DIM)).validate()  # the mixture is iso-parameter (MoP's rule)
    mix = HemgsConfig(**tiny_config(RESIDUAL_DIM), n_experts=5).validate()
    c = one.context_dim
    assert mix.prior_param_count(c) <= one.prior_param_count(c) < mix._prior_params(c, mix.expert_hidden + 1, 5)
    with pytest.raises(InputError, match="residual"):
        get_codec("combined", residual="sometimes")


def test_one_model_codes_at_two_lambdas_and_decodes_the_same_elsewhere(trained, ds, tmp_path):
    em = trained.entropy_model
    assert isinstance(em.hyper, MixturePrior) and em.hyper.n == 3 and em.hyper.gate is not None
    w = em.describe(trained.model.anchors)["gate_weights"]
    assert len(w) == 3 and abs(sum(w) - 1) < 1e-5
    scene = trained.result_scene()
    sizes = {}
    for lam in (0.002, 0.008):
        em.set_lambda(lam)
        data = CombinedCodec().encode(scene)
        sizes[lam] = len(data)
    em.set_lambda(0.004)
    assert sizes[0.002] > sizes[0.008]
    groups = {r["group"]: r["bytes"] for r in gsz_summary(data)["groups"]}
    assert groups["SFP"] > 0 and groups["MGRD"] > 0 and groups["HEMGS + MoP networks"] > 0
    assert sum(groups.values()) == len(data)
    cam = ds.cameras[ds.test_indices[0]]
    sym, img = decode_in_fresh_process(data, cam, tmp_path)
    for k, v in CombinedCodec.decode_symbols(data).items():
        assert np.array_equal(np.asarray(v), sym[k].numpy()), k
    assert torch.equal(render_anchor_scene(decode_bytes(data), cam, backend="cpu").image, img)
    save_trained(tmp_path / "run", scene, "combined", {})  # `gscodec encode RUN/ --lambda`
    out = tmp_path / "x.gsz"
    assert main(["encode", str(tmp_path / "run"), "--lambda", "0.006", "-o", str(out)]) == 0
    h = container.unpack(out.read_bytes())[0]
    assert h["codec"] == "combined" and h["hemgs_lambda"] == 0.006
