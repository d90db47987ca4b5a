"""Lightning callbacks every generation's Trainer gets (bench.engine.train.fit).

- `FiniteCheck`: a training that diverges stops at once with the step and the first non-finite quantity, instead
  of a run that exits 0 with NaN weights, NaN samples and a "finished" status.
- `EpochLines`: when the console is not a terminal (a log file, a SLURM job, CI, joblib workers), Lightning's
  progress bar would write every update of every step: one line per epoch with its logged numbers instead.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning as L
import torch

from bench.errors import Diverged

log = logging.getLogger("bench")

# at most about this many lines a generation: a long training by steps on a small D_t has thousands of epochs
MAX_EPOCH_LINES = 20


def first_non_finite(module: torch.nn.Module) -> str | None:
    """The name of the first parameter holding a NaN or infinity, or None."""
    for name, p in module.named_parameters():
        if not torch.isfinite(p.detach()).all():
            return name
    return None


def _loss_of(outputs: Any) -> torch.Tensor | None:
    """The loss training_step returned: a tensor, a {"loss": tensor} dict, or None (a closed-form fit)."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    return outputs if isinstance(outputs, torch.Tensor) else None


class FiniteCheck(L.Callback):
    """Raise Diverged on the first non-finite training loss (every step) or parameter (every epoch, and at the end)."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        loss = _loss_of(outputs)
        if loss is not None and not torch.isfinite(loss.detach()).all():
            raise Diverged(f"at step {trainer.global_step}: loss {loss.detach().float().mean().item()}")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_parameters(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_parameters(trainer, pl_module)

    @staticmethod
    def _check_parameters(trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        name = first_non_finite(pl_module)
        if name is not None:
            raise Diverged(f"at step {trainer.global_step}: parameter {name} is not finite")


class EpochLines(L.Callback):
    """One log line per epoch (at most MAX_EPOCH_LINES a fit, the last always) with the numbers the model logs."""

    def __init__(self, label: str = "") -> None:
        self.label = label
        self._start = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch, total = trainer.current_epoch + 1, self._epochs(trainer)
        last = trainer.global_step >= (trainer.max_steps if trainer.max_steps > 0 else math.inf) or epoch == total
        every = max(1, math.ceil(total / MAX_EPOCH_LINES)) if total else 1
        if not last and epoch % every:
            return
        numbers = " ".join(
            f"{k}={v.item():.4g}" for k, v in trainer.callback_metrics.items() if v.numel() == 1 and "/" not in k
        )
        steps = f"/{trainer.max_steps}" if trainer.max_steps > 0 else ""
        log.info(
            f"{self.label}epoch {epoch}{f'/{total}' if total else ''} step {trainer.global_step}{steps}: "
            f"{numbers} ({time.perf_counter() - self._start:.0f}s)"
        )

    @staticmethod
    def _epochs(trainer: L.Trainer) -> int:
        """Epochs this fit runs: max_epochs, or enough epochs of this D_t to reach max_steps."""
        if trainer.max_steps > 0:
            per_epoch = trainer.num_training_batches
            return math.ceil(trainer.max_steps / per_epoch) if per_epoch and math.isfinite(per_epoch) else 0
        return int(trainer.max_epochs or 0)
