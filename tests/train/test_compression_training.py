"""Training with compression simulation (#5): it learns, λ lowers the rate, resume is exact."""
import pytest
import torch

from gscodec.data.synthetic import load_builtin
from gscodec.errors import InputError
from gscodec.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_builtin(resolution=24, n_views=12, cache_dir=tmp_path_factory.mktemp("builtin"))


def _cfg(iterations=200, start=100, lam=0.0, **sim):
    return TrainConfig(iterations=iterations, sh_degree=1, sh_degree_interval=40, max_init_points=300,
                       strategy_options=dict(refine_start=20, refine_stop=start, refine_every=20, reset_every=10_000),
                       simulation=dict(start=start, lambda_rate=lam, **sim))


def _total(bits: dict) -> float:
    return sum(bits.values())


def test_200_iterations_improve_psnr_and_lambda_lowers_the_estimated_rate(tiny):
    runs = {}
    for lam in (0.0, 0.05):
        t = Trainer(tiny, _cfg(lam=lam))
        before = t.evaluate()["psnr"]
        res = t.train(progress=False)
        runs[lam] = res
        assert res["psnr"] > before + 1.0, (lam, before, res["psnr"])
    assert _total(runs[0.05]["estimated_bits"]) < 0.97 * _total(runs[0.0]["estimated_bits"])


def test_simulation_must_start_after_densification():
    with pytest.raises(InputError, match="simulation starts at step"):
        TrainConfig(iterations=100, strategy_options=dict(refine_stop=80), simulation=dict(start=50)).validate()


@pytest.mark.parametrize("sim", [dict(), dict(entropy_model="gaussian", quantization="ste",
                                              mask=dict(kind="gradient", ratio=0.5))])
def test_resume_with_simulation_reproduces_the_state(tiny, tmp_path, sim):
    cfg = _cfg(iterations=36, start=24, lam=0.01, **sim)
    full = Trainer(tiny, cfg)
    full.train(progress=False)
    half = Trainer(tiny, cfg, tmp_path)
    half.train(iterations=30, progress=False)
    half.save_checkpoint(tmp_path / "ck.pt")
    resumed = Trainer.resume(tiny, tmp_path / "ck.pt")
    resumed.train(progress=False)
    for name, p in full.model.params().items():
        assert torch.allclose(p, resumed.model.params()[name], atol=1e-5), name
    a, b = full.sim.state_dict(), resumed.sim.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k
