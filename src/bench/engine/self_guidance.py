"""The auxiliary model of SIMS' negative guidance (Alemohammad et al. 2024; bench.models.self_guidance): generation
t's model, copied and fine-tuned for `model.auxiliary_steps` steps on |D_t| of its own samples (drawn without
guidance), becomes the model that generation t's sampling is steered away from. Seeded by (seed, purpose, t) like
everything else, so a resumed run trains the same auxiliary."""

from __future__ import annotations

import shutil
import time
from typing import Any

from omegaconf import OmegaConf

from bench.engine.setup import Plan
from bench.engine.train import fit
from bench.report.run_folder import RunFolder
from bench.seeding import derive_seed, generator


def train_auxiliary(t: int, plan: Plan, model: Any, n: int, folder: RunFolder) -> dict[str, Any]:
    """Fine-tune a copy of `model` on `n` of its own samples and keep it as the model's auxiliary; the record."""
    start = time.perf_counter()
    shutil.rmtree(folder.path / "logs" / f"gen_{t:03d}_auxiliary", ignore_errors=True)  # an interrupted try's curves
    unguided = {**plan.sampling, "negative_guidance": 0.0}
    own = model.sample(n, generator=generator(plan.seed, "auxiliary_samples", t), **unguided)
    twin = model.auxiliary_copy()
    steps = int(plan.model_cfg.auxiliary_steps)
    trainer = OmegaConf.merge(plan.trainer_cfg, {"max_steps": steps, "max_epochs": -1})
    fit(
        twin,
        own.cpu(),
        labels=plan.real.evaluator.training_labels(twin, own.cpu()),
        trainer_cfg=trainer,
        seed=derive_seed(plan.seed, "auxiliary", t),
        log_dir=folder.path / "logs",
        log_name=f"gen_{t:03d}_auxiliary",
    )
    model.set_auxiliary(twin.unet)
    return {"steps": steps, "own_samples": n, "seconds": time.perf_counter() - start}
