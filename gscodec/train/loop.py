"""The loop shared by every trainer (3DGS, Scaffold-GS): progress bar on a terminal, a line
every 10% otherwise, periodic test-view evaluation, checkpoints, the resolved config saved.

A trainer provides: step, cfg (iterations, eval_every, checkpoint_every, to_dict()), out
(folder or None), history, train_step() -> stats dict, evaluate(), save_checkpoint(path).
"""
from __future__ import annotations

import json
import sys
import time
from typing import Callable

from gscodec.utils.io import atomic_write_text


def run_training(trainer, iterations: int | None, progress: bool, desc: str,
                 fields: Callable[[dict], dict[str, str]]) -> dict:
    """Train up to `iterations` (default cfg.iterations); `fields(stats)` names the figures
    shown per step (loss, PSNR, counts ...). Returns the final evaluation + train_seconds."""
    from tqdm.auto import tqdm

    total = trainer.cfg.iterations if iterations is None else iterations
    if trainer.out:
        trainer.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(trainer.out / "train_config.json", json.dumps(trainer.cfg.to_dict(), indent=2))
    t0 = time.perf_counter()
    tty = sys.stderr.isatty()
    bar = tqdm(total=total, initial=min(trainer.step, total), disable=not (progress and tty), desc=desc,
               dynamic_ncols=True)
    log_every = max(total // 10, 1)  # without a terminal, a line every 10% instead of a bar
    while trainer.step < total:
        stats = trainer.train_step()
        bar.update(1)
        if trainer.step % 10 == 0:
            bar.set_postfix(**fields(stats))
        if progress and not tty and (trainer.step % log_every == 0 or trainer.step == total):
            shown = "  ".join(f"{k} {v}" for k, v in fields(stats).items())
            print(f"{desc} {trainer.step}/{total}  {shown}  {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
        cfg = trainer.cfg
        if cfg.eval_every and trainer.step % cfg.eval_every == 0 and trainer.step < total:
            trainer.history.append(trainer.evaluate())
            bar.write(f"step {trainer.step}: test PSNR {trainer.history[-1]['psnr']:.2f} dB")
        if trainer.out and cfg.checkpoint_every and trainer.step % cfg.checkpoint_every == 0:
            trainer.save_checkpoint(trainer.out / "checkpoint.pt")
    bar.close()
    result = {"train_seconds": time.perf_counter() - t0, **trainer.evaluate()}
    trainer.history.append(result)
    if trainer.out:
        trainer.save_checkpoint(trainer.out / "checkpoint.pt")
    return result
