"""Training configuration (a dataclass; the CLI maps onto it and a run saves it resolved)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from gscodec.errors import InputError
from gscodec.utils.config import ConfigBase

SH_DEGREE_INTERVAL_REFERENCE = 1000  # one SH band per 1000 of 30k steps (3DGS)


@dataclass
class TrainConfig(ConfigBase):
    WHAT: ClassVar[str] = "training config"

    iterations: int = 7000
    sh_degree: int = 3
    sh_degree_interval: int | None = None  # one more SH band every this many steps; None: the rule
    lambda_dssim: float = 0.2
    # learning rates as in the 3DGS paper / gsplat; lr_means is multiplied by the scene extent
    lr_means: float = 1.6e-4
    lr_means_final: float = 1.6e-6
    lr_quats: float = 1e-3
    lr_log_scales: float = 5e-3
    lr_opacity_logits: float = 5e-2
    lr_sh_dc: float = 2.5e-3
    lr_sh_rest: float = 2.5e-3 / 20
    strategy: str = "default"  # "default" (adaptive density control) or "mcmc"
    # overrides of the strategy's fields; its schedule (refine_start/stop/every, reset_every) not
    # given here follows the rule of gscodec.train.schedule (the 30k values scaled to `iterations`)
    strategy_options: dict = field(default_factory=dict)
    init_opacity: float = 0.1
    init_scale: float = 1.0
    max_init_points: int | None = None
    eval_every: int = 0  # 0: only at the end
    checkpoint_every: int = 0  # 0: only at the end
    seed: int = 0
    backend: str = "auto"
    device: str = "cpu"
    # compression simulation (gscodec.simulate.sim.SimConfig fields); None: plain 3DGS
    simulation: dict | None = None

    def validate(self) -> "TrainConfig":
        if self.iterations < 0:
            raise InputError("iterations must be >= 0")
        if not 0 <= self.sh_degree <= 3:
            raise InputError(f"sh_degree must be 0..3, got {self.sh_degree}")
        if self.strategy not in ("default", "mcmc"):
            raise InputError(f"strategy must be 'default' or 'mcmc', got {self.strategy!r}")
        if self.simulation is not None:
            from gscodec.simulate.sim import SimConfig

            start = SimConfig.from_dict(self.simulation).start
            stop = self.refine_stop()
            if start >= self.iterations:
                raise InputError(f"compression simulation starts at step {start} but training ends at step "
                                 f"{self.iterations}, so it would never run: raise --iterations above {start} or "
                                 f"set simulation.start (and strategy_options.refine_stop) below {self.iterations}")
            if start < stop:
                raise InputError(f"compression simulation starts at step {start} but densification runs until "
                                 f"{stop}: set simulation.start >= refine_stop (the simulation needs a fixed "
                                 "set of splats)")
        return self

    def strategy_class(self):
        from gscodec.train.densify import DefaultStrategy, MCMCStrategy

        return {"default": DefaultStrategy, "mcmc": MCMCStrategy}[self.strategy]

    def schedule(self) -> dict[str, int]:
        """The strategy's schedule for this many iterations: its 30k reference values scaled by
        the rule of gscodec.train.schedule, explicit strategy_options kept."""
        from gscodec.train.schedule import scaled_schedule

        cls = self.strategy_class()
        ref = {f.name: f.default for f in dataclasses.fields(cls)}
        return scaled_schedule(ref, self.iterations, positions=cls.SCHEDULE_POSITIONS,
                               intervals=cls.SCHEDULE_INTERVALS, explicit=self.strategy_options)

    def sh_interval(self) -> int:
        from gscodec.train.schedule import scale_interval

        if self.sh_degree_interval is not None:
            return self.sh_degree_interval
        return scale_interval(SH_DEGREE_INTERVAL_REFERENCE, self.iterations)

    def refine_stop(self) -> int:
        """The step where the densification strategy stops changing the set of splats."""
        return int(self.schedule()["refine_stop"])

    def resolved(self) -> "TrainConfig":
        """This config with every schedule value written out (what a run saves and uses)."""
        return dataclasses.replace(self, sh_degree_interval=self.sh_interval(),
                                   strategy_options={**self.strategy_options, **self.schedule()})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def with_simulation(cfg, sim: dict):
    """`cfg` (TrainConfig or SpacetimeTrainConfig) with compression simulation `sim`, which starts
    where densification stops (the config's refine_stop) unless `sim` sets its start: the one
    rule for the trainers (train_and_compress, the dynamic run) and for bench specs. Validated."""
    return dataclasses.replace(cfg, simulation={"start": cfg.refine_stop(), **sim}).validate()

