"""Training configuration (a dataclass; the CLI maps onto it and a run saves it resolved)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from gscodec.errors import InputError


@dataclass
class TrainConfig:
    iterations: int = 7000
    sh_degree: int = 3
    sh_degree_interval: int = 1000  # one more SH band every this many steps
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
    strategy_options: dict = field(default_factory=dict)  # overrides of the strategy's fields
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
            if start < min(stop, self.iterations):
                raise InputError(f"compression simulation starts at step {start} but densification runs until "
                                 f"{stop}: set simulation.start >= refine_stop (the simulation needs a fixed "
                                 "set of splats)")
        return self

    def refine_stop(self) -> int:
        """The step where the densification strategy stops changing the set of splats."""
        from gscodec.train.densify import DefaultStrategy, MCMCStrategy

        cls = {"default": DefaultStrategy, "mcmc": MCMCStrategy}[self.strategy]
        return int(self.strategy_options.get("refine_stop", cls.refine_stop))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown training config keys: {', '.join(sorted(unknown))}")
        return cls(**d).validate()
