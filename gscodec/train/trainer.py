"""The 3DGS training loop: one camera per step, L1 + λ·(1-SSIM), SH bands growing over time,
a densification strategy, checkpoints with resume, periodic test-view evaluation."""
from __future__ import annotations

import math
import random
from pathlib import Path

import torch

from gscodec.data.dataset import Dataset
from gscodec.errors import InputError
from gscodec.metrics import ssim
from gscodec.models.gaussians import PARAM_NAMES, GaussianModel
from gscodec.scoring import score_dataset
from gscodec.train.config import TrainConfig
from gscodec.train.densify import MCMCStrategy
from gscodec.train.params import make_optimizers
from gscodec.utils.io import atomic_open


def _make_strategy(cfg: TrainConfig):
    return cfg.strategy_class()(**cfg.strategy_options)


class Trainer:
    def __init__(self, dataset: Dataset, cfg: TrainConfig, out_dir: str | Path | None = None,
                 model: GaussianModel | None = None):
        self.ds = dataset.check()
        self.cfg = cfg = cfg.validate().resolved()  # schedule written out: what runs is what is saved
        self.out = Path(out_dir) if out_dir else None
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        self.extent = dataset.scene_extent()
        self.model = model or GaussianModel.from_points(
            dataset.points, sh_degree=cfg.sh_degree, init_opacity=cfg.init_opacity,
            init_scale=cfg.init_scale, max_points=cfg.max_init_points, seed=cfg.seed)
        self.model.to(self.device)
        self.optimizers = make_optimizers(self.model, self._lrs())
        self.strategy = _make_strategy(cfg)
        self.step = 0
        self.history: list[dict] = []
        self.train_ids = dataset.train_indices
        if not self.train_ids:
            raise InputError("the dataset has no training views")
        self._order: list[int] = []
        self.bg = torch.tensor(dataset.background, dtype=torch.float32, device=self.device)
        self.sim, self.sim_optimizer = None, None
        if cfg.simulation is not None:
            from gscodec.simulate.sim import CompressionSim, SimConfig

            n_rest = 3 * self.model.sh_rest.shape[1]
            self.sim = CompressionSim(SimConfig.from_dict(cfg.simulation), n_rest).to(self.device)

    # ---- compression simulation ----------------------------------------------------------
    def _sim_active(self) -> bool:
        return self.sim is not None and bool(self.sim.started)

    def _begin_sim(self, resume_state: dict | None = None) -> None:
        self.sim.begin(self.model.params(), self.model.sh_rest, resume_state=resume_state)
        params = list(self.sim.parameters())
        self.sim_optimizer = torch.optim.Adam(params, lr=self.sim.cfg.lr_entropy) if params else None

    def simulated_params(self, training: bool) -> tuple[dict, torch.Tensor | None, int]:
        """The attributes as rendered: through the simulation once it runs (noise/STE in
        training, rounding in eval), else the raw parameters."""
        params = self.model.params()
        if not self._sim_active():
            return dict(params), None, 0
        self.sim.train(training)
        total = max(self.cfg.iterations - self.sim.cfg.start, 1)
        return self.sim(params, progress=(self.step - self.sim.cfg.start) / total)

    def scene_for_eval(self, simulated: bool = True):
        """A GaussianScene of the model: with simulated=True as the decoder will see it
        (quantized, masked); with False unquantized but masked (the uncompressed result).
        It carries the simulation as its entropy model for the encoder."""
        from gscodec.scene import GaussianScene

        with torch.no_grad():
            if not self._sim_active():
                return self.model.export()
            if simulated:
                p, _, _ = self.simulated_params(training=False)
            else:
                p = dict(self.model.params())
                p["sh_rest"] = p["sh_rest"] * self.sim.sh_active(p["sh_rest"])[:, None, None].to(p["sh_rest"].dtype)
            scene = GaussianScene(**{k: p[k].detach().to("cpu") for k in PARAM_NAMES})
        self.sim.eval()
        scene.entropy_model = self.sim
        return scene

    def _lrs(self) -> dict[str, float]:
        c = self.cfg
        return {"means": c.lr_means * self.extent, "quats": c.lr_quats, "log_scales": c.lr_log_scales,
                "opacity_logits": c.lr_opacity_logits, "sh_dc": c.lr_sh_dc, "sh_rest": c.lr_sh_rest}

    def _means_lr(self) -> float:
        """Exponential decay of the position learning rate from lr_means to lr_means_final."""
        c = self.cfg
        t = min(self.step / max(c.iterations, 1), 1.0)
        return math.exp((1 - t) * math.log(c.lr_means) + t * math.log(c.lr_means_final)) * self.extent

    def _next_camera(self) -> int:
        if not self._order:
            self._order = list(self.train_ids)
            self.rng.shuffle(self._order)
        return self._order.pop()

    def render(self, cam_index: int | None = None, camera=None, sh_degree: int | None = None,
               params: dict | None = None):
        from gscodec.render import camera_tensors, rasterization

        m = params if params is not None else self.model.params()
        camera = camera or self.ds.cameras[cam_index]
        viewmats, Ks = camera_tensors([camera], self.device, torch.float32)
        deg = self.model.sh_degree if sh_degree is None else sh_degree
        colors = torch.cat([m["sh_dc"][:, None], m["sh_rest"]], 1)
        img, alpha, meta = rasterization(
            m["means"], m["quats"], m["log_scales"].exp(), torch.sigmoid(m["opacity_logits"]), colors,
            viewmats, Ks, camera.width, camera.height, sh_degree=deg, backgrounds=self.bg[None],
            backend=self.cfg.backend)
        return img[0], meta

    def train_step(self) -> dict:
        cfg = self.cfg
        idx = self._next_camera()
        gt = self.ds.image(idx).to(self.device)
        deg = min(self.step // max(cfg.sh_interval(), 1), self.model.sh_degree)
        if self.sim is not None and not self._sim_active() and self.step >= self.sim.cfg.start:
            self._begin_sim()
        params, bits, elements = self.simulated_params(training=True)
        img, meta = self.render(idx, sh_degree=deg, params=params)
        meta["means2d"].retain_grad()
        l1 = (img - gt).abs().mean()
        loss = (1 - cfg.lambda_dssim) * l1 + cfg.lambda_dssim * (1 - ssim(img, gt))
        if isinstance(self.strategy, MCMCStrategy):
            loss = loss + self.strategy.regularization(self.model)
        rate_bpe = None
        if bits is not None:
            rate_bpe = float(bits.detach()) / max(elements, 1)
            loss = loss + self.sim.rate_loss(bits, elements) + self.sim.aux_loss()
        loss.backward()
        for g in self.optimizers["means"].param_groups:
            g["lr"] = self._means_lr()
        opts = list(self.optimizers.values()) + ([self.sim_optimizer] if self.sim_optimizer is not None else [])
        for opt in opts:
            opt.step()
            opt.zero_grad(set_to_none=True)
        kw = {"lr_means": self._means_lr()} if isinstance(self.strategy, MCMCStrategy) else {}
        self.strategy.step_post_backward(self.model, self.optimizers, meta, self.step, self.extent, **kw)
        self.step += 1
        mse = float(((img.detach().clamp(0, 1) - gt) ** 2).mean())
        return {"loss": float(loss.detach()), "psnr": -10 * math.log10(max(mse, 1e-12)), "n": len(self.model),
                "bits_per_element": rate_bpe}

    @torch.no_grad()
    def evaluate(self, indices: list[int] | None = None) -> dict:
        indices = self.ds.test_indices if indices is None else indices
        if not indices:
            return {}
        m = score_dataset(self.scene_for_eval(), self.ds, indices, backend=self.cfg.backend).mean()
        out = {"step": self.step, "psnr": m["psnr"], "ssim": m["ssim"], "n_gaussians": len(self.model)}
        if self._sim_active():
            out["estimated_bits"] = self.estimated_bits()
        return out

    @torch.no_grad()
    def estimated_bits(self) -> dict:
        """The entropy model's estimate of the constrained attributes' size (eval rounding)."""
        self.sim.eval()
        params = self.model.params()
        from gscodec.simulate.sim import to_channels

        ch = to_channels(params)
        out = {}
        for name, m in self.sim.entropy.items():
            y = self.sim.symbols(name, ch[name]).to(ch[name].dtype)
            b = m.bits(params["means"], y) if hasattr(m, "context") else m.bits(y)
            out[name] = float(b)
        return out

    def train(self, iterations: int | None = None, progress: bool = True) -> dict:
        from gscodec.train.loop import run_training

        def fields(st: dict) -> dict[str, str]:
            out = {"loss": f"{st['loss']:.4f}", "psnr": f"{st['psnr']:.2f}", "splats": f"{st['n']:,}"}
            if st["bits_per_element"] is not None:
                out["bits/value"] = f"{st['bits_per_element']:.2f}"
            return out

        return run_training(self, iterations, progress, "training", fields)

    # ---- checkpoints -----------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "config": self.cfg.to_dict(),
            "params": {k: v.detach().cpu() for k, v in self.model.params().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "strategy": {k: v for k, v in vars(self.strategy).items()},
            "rng": self.rng.getstate(),
            "order": list(self._order),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "sim": self.sim.state_for_checkpoint() if self._sim_active() else None,
            "sim_optimizer": self.sim_optimizer.state_dict() if self.sim_optimizer is not None else None,
        }

    def save_checkpoint(self, path: str | Path) -> None:
        with atomic_open(path, "wb") as f:
            torch.save(self.state_dict(), f)

    @classmethod
    def resume(cls, dataset: Dataset, path: str | Path, out_dir=None) -> "Trainer":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no checkpoint to resume from")
        try:
            st = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # a torn or foreign file
            raise InputError(f"{path}: not a readable gscodec checkpoint ({e})") from None
        from gscodec.scene import GaussianScene

        model = GaussianModel(GaussianScene(**{k: st["params"][k] for k in PARAM_NAMES}))
        t = cls(dataset, TrainConfig.from_dict(st["config"]), out_dir, model=model)
        for k, o in t.optimizers.items():
            o.load_state_dict(st["optimizers"][k])
        for k, v in st["strategy"].items():
            setattr(t.strategy, k, v)
        t.step, t._order, t.history = st["step"], st["order"], st["history"]
        if st.get("sim") is not None and t.sim is not None:
            t._begin_sim(resume_state=st["sim"])
            if t.sim_optimizer is not None and st.get("sim_optimizer") is not None:
                t.sim_optimizer.load_state_dict(st["sim_optimizer"])
        t.rng.setstate(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        return t
