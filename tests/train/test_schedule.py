"""The one schedule rule (gscodec.train.schedule): 30k reference values scaled to the run's
length, intervals floored, explicit values kept; configs that cannot train what the codec
needs are refused before training."""
import pytest

from gscodec.errors import InputError
from gscodec.train.config import TrainConfig
from gscodec.train.scaffold import ScaffoldConfig
from gscodec.train.schedule import scale_interval, scale_position


def test_reference_length_keeps_the_papers_values():
    cfg = TrainConfig(iterations=30_000).resolved()
    assert cfg.sh_degree_interval == 1000
    assert {k: cfg.strategy_options[k] for k in ("refine_start", "refine_stop", "refine_every", "reset_every")} == \
        {"refine_start": 500, "refine_stop": 15_000, "refine_every": 100, "reset_every": 3000}
    hac = ScaffoldConfig.scaled(30_000)
    assert (hac.plain_until, hac.noise_until, hac.grow_from, hac.grow_until, hac.grow_every) == \
        (3000, 10_000, 1500, 15_000, 100)


def test_shorter_runs_keep_proportions_and_floor_intervals():
    s = TrainConfig(iterations=1000).schedule()
    assert s == {"refine_start": 17, "refine_stop": 500, "refine_every": 100, "reset_every": 100}
    assert TrainConfig(iterations=1000).sh_interval() == 100 and TrainConfig(iterations=6000).sh_interval() == 200
    assert scale_interval(100, 30) == 100 and scale_interval(5, 30) == 5 and scale_position(15_000, 30) == 15
    assert scale_interval(100, 60_000) == 200  # longer runs stretch intervals too
    hac = ScaffoldConfig.scaled(1000)
    assert (hac.plain_until, hac.noise_until, hac.grow_every) == (100, 333, 100)


def test_explicit_values_win():
    cfg = TrainConfig(iterations=1000, sh_degree_interval=7, strategy_options={"refine_stop": 800, "max_gaussians": 9})
    r = cfg.resolved()
    assert r.sh_degree_interval == 7 and r.strategy_options["refine_stop"] == 800
    assert r.strategy_options["max_gaussians"] == 9 and r.strategy_options["refine_start"] == 17
    assert ScaffoldConfig.scaled(1000, noise_until=400).noise_until == 400


@pytest.mark.parametrize("iterations", [30, 1000, 7000])
def test_static_gscodec_simulation_runs_at_any_length(iterations):
    from gscodec.codecs import get_codec
    from gscodec.train.run import with_codec_simulation

    cfg = TrainConfig() if iterations == 7000 else TrainConfig(iterations=iterations)
    sim = with_codec_simulation(cfg, get_codec("static-gscodec"), {}).simulation
    assert 0 < sim["start"] < cfg.iterations and sim["start"] == cfg.refine_stop()


def test_a_simulation_that_never_runs_is_refused():
    from gscodec.codecs import get_codec
    from gscodec.train.run import with_codec_simulation

    cfg = TrainConfig(iterations=100, strategy_options={"refine_stop": 100})
    with pytest.raises(InputError, match="would never run"):
        with_codec_simulation(cfg, get_codec("static-gscodec"), {})
    with pytest.raises(InputError, match="would never run"):
        TrainConfig(iterations=0, simulation={}).validate()


def test_a_rate_phase_that_never_begins_is_refused():
    with pytest.raises(InputError, match="never be trained"):
        ScaffoldConfig.scaled(100, noise_until=100).check_rate_phase("hac")
    ScaffoldConfig.scaled(30).check_rate_phase("hac")


def test_anchor_runs_size_the_feature_for_the_scene():
    from gscodec.train.anchor_run import scaffold_config_for

    assert scaffold_config_for(1000, n_points=4000).feat_dim == 32  # small scene: smaller networks
    assert scaffold_config_for(1000, n_points=100_000).feat_dim == 50  # HAC's
    assert scaffold_config_for(1000, {"feat_dim": 50}, n_points=4000).feat_dim == 50  # explicit wins
