"""One generation of the loop, as its steps: compose D_t, train M_t, sample S_t, score it, and the record.

Everything here is decided before any training (`bench.engine.setup.Plan`); nothing here writes the run folder: the
loop commits the record, weights and samples that `run_generation` returns (`bench.engine.run`).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.engine.health import generation_zero_health, non_finite_diagnostics
from bench.engine.self_guidance import train_auxiliary
from bench.engine.setup import Plan
from bench.engine.train import fit
from bench.errors import BenchError, Diverged
from bench.loops import LoopContext
from bench.loops.base import TrainingSet
from bench.models.factory import build_model
from bench.report.run_folder import RunFolder
from bench.seeding import derive_seed, generator


@dataclass
class Generation:
    """What generation t produced: its record (as results.json will hold it), its model and its samples."""

    record: dict[str, Any]
    model: Any
    samples: torch.Tensor


def run_generation(t: int, plan: Plan, ctx: LoopContext, folder: RunFolder, floor: dict) -> Generation:
    """Generation t from D_t to its scores. Needs the plan, the loop's context (D_0, the real pool, earlier samples)
    and the floor (for generation 0's health gate); reads earlier weights from `folder` for a warm start."""
    if plan.curator:
        plan.curator.start_generation()
    train_set = plan.loop.training_set(t, ctx)
    try:  # a NaN in training or sampling stops here: nothing of generation t is committed, earlier ones stay
        model, device, train_s = train_model(t, plan, train_set, folder)
        diagnostics = model.diagnostics(train_set.images)
        auxiliary = None
        if plan.sampling.get("negative_guidance"):  # SIMS: the self-consumed twin sampling steers away from
            auxiliary = train_auxiliary(t, plan, model, len(train_set.images), folder)
        start = time.perf_counter()
        samples = model.sample(plan.n_draw, generator=generator(plan.seed, "sample", t), **plan.sampling)
        sample_s = time.perf_counter() - start
    except Diverged as e:
        raise BenchError(
            f"generation {t} diverged {e}; try a smaller model.lr (or trainer.gradient_clip_val)"
        ) from None

    start = time.perf_counter()
    metrics = plan.real.evaluator.score_images(
        samples[: plan.n_scored], seed=derive_seed(plan.seed, "eval", t), training_images=train_set.images
    )
    eval_s = time.perf_counter() - start
    warnings = list(diagnostics.get("warnings", [])) + non_finite_diagnostics(diagnostics)
    if t == 0:
        n_classes = plan.real.evaluator.num_classes or 0
        warnings += generation_zero_health(metrics, floor, n_classes=n_classes, health=plan.health)
    record = generation_record(t, plan, train_set, device=device, diagnostics=diagnostics, warnings=warnings)
    record["seconds"] = {"train": train_s, "sample": sample_s, "eval": eval_s}
    # sampling.negative_guidance: how the auxiliary was made (its seconds are not in train or sample); else null
    record["auxiliary"] = auxiliary
    record["metrics"] = metrics
    return Generation(record, model, samples)


def train_model(t: int, plan: Plan, train_set: TrainingSet, folder: RunFolder) -> tuple[Any, torch.device, float]:
    """M_t trained on D_t: built from its own seed (or warm-started from M_{t-1}'s saved weights), labelled by the
    reference classifier when the model wants labels; returns the model, its device and the training seconds."""
    # weights are initialised from a seed of their own, not from whatever the global RNG went through before
    torch.manual_seed(derive_seed(plan.seed, "init", t))
    model = build_model(plan.model_cfg, **plan.real.model_info)
    if plan.loop.warm_start and t > 0:
        model.load_state_dict(folder.load_state_dict(t - 1))
    elif t > 0 and callable(getattr(model, "inherit", None)):
        # a part the model keeps across generations without a warm start (a frozen autoencoder: bench.models.ldm)
        model.inherit(folder.load_state_dict(t - 1))
    labels = plan.real.evaluator.training_labels(model, train_set.images)
    weights = plan.loop.example_weights(train_set)  # loop.real_weight: the real images' share of the loss
    log_dir = folder.path / "logs"
    shutil.rmtree(log_dir / f"gen_{t:03d}", ignore_errors=True)  # curves of an interrupted try at generation t
    start = time.perf_counter()
    device = fit(
        model,
        train_set.images,
        labels=labels,
        weights=weights,
        trainer_cfg=plan.trainer_cfg,
        seed=derive_seed(plan.seed, "train", t),
        log_dir=log_dir,
        log_name=f"gen_{t:03d}",
    )
    return model, device, time.perf_counter() - start


def generation_record(
    t: int, plan: Plan, train_set: TrainingSet, *, device: torch.device, diagnostics: dict, warnings: list[str]
) -> dict[str, Any]:
    """Generation t's record without its seconds and metrics (see docs: results.json, per generation)."""
    extractor = plan.real.evaluator.extractor
    return {
        "generation": t,
        # the feature space that scored this row: rows from different feature spaces are never compared
        "extractor": f"{extractor.name}:{extractor.sha256[:12]}",
        "counts": {
            "real": train_set.n_real,
            "synthetic": train_set.n_synthetic,
            "total": len(train_set.images),
            "sampled": plan.n_draw,
        },
        "training_set": train_set.sources,
        # what curation kept of each synthetic set this generation trained on (null: no curation)
        "curation": plan.curator.report() if plan.curator else None,
        "warm_start": plan.loop.warm_start and t > 0,
        # the share of the training loss D_t's real images carried (loop.real_weight; null: their count's share)
        "real_loss_share": plan.loop.real_loss_share(train_set),
        "device": str(device),
        # not a result key (it names no folder and may change on resume), but it changes float sums in
        # training: recorded per generation so a resumed run with another thread count shows where
        "torch_threads": torch.get_num_threads(),
        "seconds": None,
        "sampling": plan.sampling,
        "diagnostics": {k: v for k, v in diagnostics.items() if k != "warnings"},
        "healthy": not warnings,
        "warnings": warnings,
        "metrics": None,
    }


def exporter(model) -> Any:
    """A model's own format beside the loop's checkpoint (a DDPM: diffusers' save_pretrained, in gen_XXX/diffusers/)."""
    save_pretrained = getattr(model, "save_pretrained", None)
    if save_pretrained is None:
        return None

    def export(tmp: Path) -> None:
        save_pretrained(tmp / "diffusers")

    return export
