"""3DGS training on a tiny built-in scene: it learns, densifies, and resumes exactly."""
import pytest
import torch

from gscodec.data.synthetic import load_builtin
from gscodec.errors import InputError
from gscodec.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_builtin(resolution=32, n_views=16, cache_dir=tmp_path_factory.mktemp("builtin"))


def _cfg(**kw):
    base = dict(iterations=60, sh_degree=1, sh_degree_interval=30,
                strategy_options=dict(refine_start=20, refine_stop=50, refine_every=10, reset_every=10_000))
    base.update(kw)
    return TrainConfig(**base)


def test_training_improves_psnr_and_densifies(tiny):
    t = Trainer(tiny, _cfg(iterations=150, max_init_points=800,
                           strategy_options=dict(refine_start=30, refine_stop=120, refine_every=30,
                                                 reset_every=10_000)))
    before, before_train = t.evaluate(), t.evaluate(t.train_ids)
    after = t.train(progress=False)
    assert t.evaluate(t.train_ids)["psnr"] > before_train["psnr"] + 1.5
    assert after["psnr"] > before["psnr"]
    assert after["n_gaussians"] != 800  # adaptive density control changed the count
    assert torch.isfinite(t.model.means).all()


def test_mcmc_respects_cap(tiny):
    cfg = _cfg(strategy="mcmc", max_init_points=500,
               strategy_options=dict(cap_max=600, refine_start=10, refine_stop=50, refine_every=10))
    t = Trainer(tiny, cfg)
    r = t.train(progress=False)
    assert 500 < len(t.model) <= 600 and r["psnr"] > 0


def test_resume_reproduces_state(tiny, tmp_path):
    cfg = _cfg(iterations=30, max_init_points=400)
    full = Trainer(tiny, cfg)
    full.train(progress=False)

    half = Trainer(tiny, cfg, tmp_path)
    half.train(iterations=15, progress=False)
    half.save_checkpoint(tmp_path / "ck.pt")
    resumed = Trainer.resume(tiny, tmp_path / "ck.pt")
    resumed.train(progress=False)
    assert resumed.step == full.step == 30
    for name, p in full.model.params().items():
        assert torch.allclose(p, resumed.model.params()[name], atol=1e-6), name


def test_bad_checkpoint_is_a_clear_error(tiny, tmp_path):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable gscodec checkpoint"):
        Trainer.resume(tiny, tmp_path / "x.pt")


def test_config_validation():
    with pytest.raises(InputError):
        TrainConfig(strategy="magic").validate()
    with pytest.raises(InputError, match="unknown training config keys"):
        TrainConfig.from_dict({"iters": 5})
