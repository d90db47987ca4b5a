"""Train one generation's model on uint8 images with a Lightning Trainer built from `cfg.trainer`, seeded.

Batches are `(images uint8 (B, C, H, W), labels int64 (B,))`; an unconditional model ignores the labels.
After `fit` the model stays on the device it trained on (Lightning's teardown moves it to the CPU), so
the loop samples and diagnoses there: a DDPM's thousands of sampling calls belong on the GPU.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

# lightning 2.6 on torch 2.14 warns about its own use of a torch pytree API at import: not actionable here
warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")

import lightning as L  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler  # noqa: E402

from bench.build import build  # noqa: E402
from bench.engine.train_callbacks import EpochLines, FiniteCheck  # noqa: E402
from bench.errors import BenchError, check_positive  # noqa: E402
from bench.models.precision import trainer_precision  # noqa: E402

# auto: bf16-mixed where the training device has native bf16, 32-true elsewhere (bench.models.precision)
PRECISIONS = ("32-true", "32", "bf16-mixed", "bf16-true", "16-mixed", "64-true", "auto")
# Lightning strategies a generation can train under. Multi-GPU (or multi-process CPU) data parallel training is
# ddp_spawn: the workers train, and the trained weights come back to this process, which samples and scores once.
# Plain `ddp` re-launches the whole command once per device, which would run every generation's sampling, scoring
# and folder writes once per device.
STRATEGIES = ("auto", "ddp_spawn", "ddp_notebook")


def training_length(trainer_cfg) -> dict:
    """max_steps > 0 trains by optimizer steps (whatever |D_t|), otherwise by epochs."""
    max_steps = trainer_cfg.get("max_steps", -1)
    if max_steps is not None and max_steps != -1:
        return {"max_steps": check_positive("trainer.max_steps", max_steps), "max_epochs": -1}
    return {"max_epochs": check_positive("trainer.max_epochs", trainer_cfg.max_epochs), "max_steps": -1}


def check_trainer(trainer_cfg) -> None:
    """Everything a Trainer would reject, in one line, before any training."""
    training_length(trainer_cfg)
    check_positive("trainer.batch_size", trainer_cfg.batch_size)
    precision = str(trainer_cfg.get("precision", "32-true"))
    if precision not in PRECISIONS:
        raise BenchError(f"trainer.precision={precision!r} is not known; allowed: {', '.join(PRECISIONS)}")
    strategy = str(trainer_cfg.get("strategy", "auto"))
    if strategy not in STRATEGIES:
        raise BenchError(
            f"trainer.strategy={strategy!r} is not supported; allowed: {', '.join(STRATEGIES)} "
            "(ddp_spawn trains on several devices and leaves sampling and scoring to this process)"
        )
    clip = trainer_cfg.get("gradient_clip_val")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float)) or clip <= 0):
        raise BenchError(f"trainer.gradient_clip_val={clip} must be a number > 0 or null")


def fit(
    model: L.LightningModule,
    images: torch.Tensor,
    *,
    trainer_cfg,
    seed: int,
    labels: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    log_dir: str | Path | None = None,
    log_name: str = "train",
) -> torch.device:
    """Train `model` in place; returns the device it trained on (where it is left).

    `weights` (one per image, from `Loop.example_weights`): images are drawn with these probabilities, with
    replacement, |D_t| draws an epoch, instead of a shuffle. Every model's loss is a mean over its batch, so an
    image drawn with probability p_i carries p_i of the expected loss and gradient: one place that weights the loss
    of every model (the VAE, the diffusion models, a latent model's autoencoder, the Gaussian's moments)."""
    check_trainer(trainer_cfg)
    if labels is None:
        labels = torch.zeros(len(images), dtype=torch.long)
    L.seed_everything(seed, verbose=False)
    order = torch.Generator().manual_seed(seed)
    sampler = None
    if weights is not None:
        sampler = WeightedRandomSampler(weights.double(), num_samples=len(images), replacement=True, generator=order)
    loader = DataLoader(
        TensorDataset(images, labels.long()),
        batch_size=int(trainer_cfg.batch_size),
        shuffle=sampler is None,
        sampler=sampler,
        generator=order if sampler is None else None,
        num_workers=0,  # the whole set is one in-memory uint8 tensor: workers only add start-up time
    )
    logger_cfg = trainer_cfg.get("logger")
    logger = False
    if logger_cfg is not None and log_dir is not None:
        # save_dir/name/version are the folder convention of every Lightning logger (CSV, TensorBoard, W&B, ...)
        logger = build(logger_cfg, save_dir=str(log_dir), name=log_name, version="")
    # the bar only on an interactive terminal: elsewhere (a log file, SLURM, CI) it writes every step's update,
    # and one line per epoch says the same
    progress_bar = bool(trainer_cfg.enable_progress_bar) and sys.stdout.isatty()
    callbacks = [build(c) for c in trainer_cfg.get("callbacks") or []]
    callbacks.append(FiniteCheck())  # a diverged training stops at its first NaN (bench.errors.Diverged)
    if not progress_bar:
        callbacks.append(EpochLines(label=f"{log_name} "))
    if trainer_cfg.get("strategy", "auto") in ("ddp_spawn", "ddp_notebook"):
        # D_t reaches the spawned workers through shared memory; the file-descriptor default failed in sandboxed
        # kernels ("unable to resize file"), while named files in /dev/shm work everywhere
        torch.multiprocessing.set_sharing_strategy("file_system")
    trainer = L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        strategy=str(trainer_cfg.get("strategy", "auto")),
        **training_length(trainer_cfg),
        precision=trainer_precision(str(trainer_cfg.get("precision", "32-true")), str(trainer_cfg.accelerator)),
        gradient_clip_val=trainer_cfg.get("gradient_clip_val"),
        logger=logger,
        log_every_n_steps=int(trainer_cfg.get("log_every_n_steps", 50)),
        callbacks=callbacks,
        enable_checkpointing=False,  # the run folder keeps one checkpoint per generation itself
        enable_model_summary=False,
        enable_progress_bar=progress_bar,
        deterministic=bool(trainer_cfg.get("deterministic", True)),
    )
    with warnings.catch_warnings():
        # "does not have many workers" is deliberate here (see num_workers above)
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        # short tests train fewer batches than the logging interval: nothing to log is not a problem
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        # a model fitted in closed form (model=gaussian) has no optimizer, on purpose
        warnings.filterwarnings("ignore", message=".*configure_optimizers.* returned `None`.*")
        trainer.fit(model, loader)
    device = trainer.strategy.root_device
    model.to(device)
    return device


def quiet_lightning() -> None:
    """Lightning's banners (GPU available, tips) say nothing about a run; keep the console for our summary."""
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning.pytorch.accelerators.cuda",
        "lightning.fabric.utilities.seed",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
