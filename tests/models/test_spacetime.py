"""Spacetime Gaussians: the formulas at known times, gradients of the time-dependent
parameters through rendering, the seam's baked slice, and the Table VIII motion-basis model."""
import math
import sys
from pathlib import Path

import torch

from gscodec.data.cameras import Camera, orbit_cameras
from gscodec.render import render
from gscodec.render.spacetime import render_features
from gscodec.scene.renderable import render_view
from gscodec.scene.spacetime import SpacetimeScene, init_decoder, local_time, slice_at, temporal_opacity

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from dynamic_toy import toy_dataset, toy_scene  # noqa: E402


def _one(**kw) -> SpacetimeScene:
    base = dict(means=torch.tensor([[1.0, 2.0, 3.0]]), motion=torch.tensor([[[1.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0]]]),
                quats=torch.tensor([[1.0, 0, 0, 0]]), omega=torch.tensor([[0.0, 1.0, 0, 0]]),
                log_scales=torch.zeros(1, 3), opacity_logits=torch.zeros(1), t_center=torch.tensor([0.25]),
                t_log_scale=torch.tensor([math.log(0.5)]), features=torch.zeros(1, 9), decoder=init_decoder(),
                time_range=(1.0, 3.0), frame_range=(10, 31))
    base.update(kw)
    return SpacetimeScene(**base).check()


def test_motion_and_temporal_opacity_follow_their_formulas():
    sc = _one()
    assert local_time(2.0, sc.time_range) == 0.5 and local_time(9.0, sc.time_range) == 1.0
    s = slice_at(sc.attributes(), 0.75)
    dt = 0.5  # tau - t_center
    assert torch.allclose(s["means"], torch.tensor([[1 + dt, 2 + 2 * dt ** 2, 3 + 3 * dt ** 3]]))
    assert torch.allclose(s["quats"], torch.tensor([[1.0, dt, 0, 0]]))
    expected = 0.5 * math.exp(-(dt / 0.5) ** 2)  # sigmoid(0) * Gaussian in time
    assert math.isclose(float(s["opacities"]), expected, rel_tol=1e-6)
    assert math.isclose(float(temporal_opacity(sc.attributes(), 0.25)), 1.0)


def test_time_dependent_parameters_have_correct_gradients_through_render():
    g = torch.Generator().manual_seed(0)
    n = 3
    p = {"means": torch.tensor([[0.1, -0.05, 4.0], [-0.15, 0.1, 4.5], [0.0, 0.12, 5.0]], dtype=torch.float64),
         "motion": torch.randn(n, 3, 3, generator=g, dtype=torch.float64) * 0.05,
         "quats": torch.randn(n, 4, generator=g, dtype=torch.float64),
         "omega": torch.randn(n, 4, generator=g, dtype=torch.float64) * 0.1,
         "log_scales": torch.log(torch.tensor([[0.5, 0.4, 0.45], [0.45, 0.55, 0.4], [0.6, 0.5, 0.5]], dtype=torch.float64)),
         "opacity_logits": torch.tensor([0.5, 0.2, 0.8], dtype=torch.float64),
         "t_center": torch.tensor([0.3, 0.5, 0.6], dtype=torch.float64),
         "t_log_scale": torch.log(torch.tensor([0.6, 0.8, 0.7], dtype=torch.float64)),
         "features": torch.rand(n, 9, generator=g, dtype=torch.float64)}
    dec = {k: v.double() for k, v in init_decoder().items()}
    dec["w2"] = torch.randn(3, dec["w2"].shape[1], generator=g, dtype=torch.float64) * 0.1
    cam = Camera(8, 8, 40.0, 40.0, 4.0, 4.0, torch.eye(4), time=0.0)
    timed = ("motion", "omega", "t_center", "t_log_scale")

    def f(*ts):
        q = {**p, **dict(zip(timed, ts))}
        return render_features(q, dec, [cam], 0.4, backend="cpu_reference").image

    inputs = tuple(p[k].clone().requires_grad_(True) for k in timed)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True)


def test_slice_for_a_camera_renders_like_the_exact_path_and_the_sh_fit_is_close():
    sc = toy_scene()
    cam = orbit_cameras(1, 3.0, width=24, height=24, fov_deg=45.0)[0]
    cam.time = 0.1
    exact = render_view(sc, cam).image
    # decoder output layer zero: per-splat and per-pixel decoding agree exactly
    assert torch.allclose(render(sc.splats(cam), cam).image, exact, atol=1e-5)
    g = torch.Generator().manual_seed(1)
    dec = {**sc.decoder, "w2": torch.randn(3, sc.decoder["w2"].shape[1], generator=g) * 0.05}
    sc2 = SpacetimeScene(**{**sc.attributes(), "decoder": dec, "time_range": sc.time_range,
                            "frame_range": sc.frame_range})
    exact2 = render_view(sc2, cam).image
    baked = render(sc2.slice_scene(cam.time, sh_degree=1), cam).image
    mse = float(((baked - exact2) ** 2).mean())
    assert mse > 0 and -10 * math.log10(mse) > 30  # view dependence baked to SH 1, not exactly


def test_a_short_training_lowers_the_loss_for_both_motion_models():
    from gscodec.train.spacetime import SpacetimeTrainConfig, SpacetimeTrainer

    ds = toy_dataset(frames=3, views=4, size=16)
    counts = {}
    for motion in ("poly", "basis"):
        t = SpacetimeTrainer(ds, SpacetimeTrainConfig(iterations=40, motion=motion), (0, 3))
        before = t.evaluate(simulated=False)["psnr"]
        after = t.train(progress=False)["psnr"]
        assert after > before + 1.0, (motion, before, after)
        counts[motion] = t.model.parameter_count()
    assert counts["basis"] > counts["poly"]  # 10 bases x 3 coefficients per splat vs 12 motion floats


def test_compression_simulation_exports_a_scene_carrying_it():
    from gscodec.train.spacetime import SpacetimeTrainConfig, SpacetimeTrainer

    ds = toy_dataset(frames=2, views=3, size=16)
    cfg = SpacetimeTrainConfig(iterations=30, simulation={"start": 20, "lambda_rate": 0.02},
                               strategy_options={"refine_stop": 10})
    t = SpacetimeTrainer(ds, cfg, (0, 2))
    res = t.train(progress=False)
    sc = t.export()
    assert sc.entropy_model is t.sim and bool(sc.entropy_model.started)
    assert res["psnr"] > 10 and len(sc) == len(t.model)
    moving = t.sim.moving()
    assert torch.all(sc.motion[~moving] == 0)
