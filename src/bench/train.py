"""Train one generation's model on uint8 images with a Lightning Trainer, seeded for repeatability."""

from __future__ import annotations

import logging
import warnings

# lightning 2.6 on torch 2.14 warns about its own use of a torch pytree API at import: not actionable here
warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")

import lightning as L  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from bench.errors import check_positive  # noqa: E402


def fit(model: L.LightningModule, images: torch.Tensor, *, trainer_cfg, seed: int) -> None:
    max_epochs = check_positive("trainer.max_epochs", trainer_cfg.max_epochs)
    batch_size = check_positive("trainer.batch_size", trainer_cfg.batch_size)
    L.seed_everything(seed, verbose=False)
    loader = DataLoader(
        TensorDataset(images),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        num_workers=0,  # the whole set is one in-memory uint8 tensor: workers only add start-up time
    )
    trainer = L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=False,  # the run folder keeps one checkpoint per generation itself
        enable_model_summary=False,
        enable_progress_bar=bool(trainer_cfg.enable_progress_bar),
        deterministic=bool(trainer_cfg.get("deterministic", True)),
    )
    with warnings.catch_warnings():
        # "does not have many workers" is deliberate here (see num_workers above)
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, loader)


def quiet_lightning() -> None:
    """Lightning's banners (GPU available, tips) say nothing about a run; keep the console for our summary."""
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning.pytorch.accelerators.cuda",
        "lightning.fabric.utilities.seed",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
