"""Before any training: the real side, the loop and every setting checked, and the header of results.json.

`prepare` is where the engine reads the run's config: the parts below it (the real side, contamination, curation,
a generation's steps) get the values they use, gathered in a `Plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

import bench
from bench.build import build
from bench.engine.contamination import PoolContamination
from bench.engine.curation import Curator
from bench.engine.health import check_health_config
from bench.engine.real_side import RealSide, build_real_side
from bench.engine.train import check_trainer
from bench.loops import Loop
from bench.models.factory import build_model, sampling_settings
from bench.report.environment import environment
from bench.seeding import derive_seed, generator


@dataclass
class Plan:
    """Everything a generation needs, decided and checked before generation 0 trains."""

    seed: int
    real: RealSide
    loop: Loop
    model_cfg: DictConfig
    trainer_cfg: DictConfig
    health: DictConfig
    sampling: dict[str, Any]
    n_draw: int  # images sampled per generation (curation candidates or the scored ones, whichever is more)
    n_scored: int
    contamination: PoolContamination
    title: str  # plots' title
    # loop.curation: later generations train on the best-scoring share of each S_s (bench.engine.curation); set by
    # `start_curation` once the run folder is open (the detector's training belongs after the resume checks)
    curator: Curator | None = None

    def start_curation(self) -> None:
        if self.loop.curation:
            self.curator = Curator(self.loop, self.real, self.contamination, seed=self.seed)


def prepare(cfg: DictConfig) -> Plan:
    """Build and check the real side, the loop, the trainer, the health gate and the model's sampling settings."""
    contamination = PoolContamination.of(cfg)
    real = build_real_side(
        cfg.data, cfg.metrics, seed=int(cfg.seed), cache_dir=cfg.cache_dir, contamination=contamination
    )
    loop: Loop = build(cfg.loop)
    loop.check_sizes(n_initial=len(real.initial), n_pool=len(real.pool))
    loop.check_curation(n_labelled_available=len(real.data.train_images), num_classes=real.data.num_classes)
    check_trainer(cfg.trainer)
    check_health_config(cfg.health)
    sampling = sampling_settings(cfg)
    # a bad model config or sampling setting fails now, not after gen 0 trains (sample(0) checks the settings)
    build_model(cfg.model, **real.model_info).sample(0, generator=generator(cfg.seed, "probe"), **sampling)
    return Plan(
        seed=int(cfg.seed),
        real=real,
        loop=loop,
        model_cfg=cfg.model,
        trainer_cfg=cfg.trainer,
        health=cfg.health,
        sampling=sampling,
        n_draw=max(loop.n_candidates, int(cfg.metrics.n_samples)),
        n_scored=int(cfg.metrics.n_samples),
        contamination=contamination,
        title=f"{cfg.data.name} / {cfg.model.name} / loop={cfg.loop.name} / seed={cfg.seed}",
    )


def results_header(plan: Plan, config: dict, accelerator: str) -> dict[str, Any]:
    """Everything results.json holds above its generations (see README: the run folder)."""
    real, evaluator = plan.real, plan.real.evaluator
    data = real.data
    env = environment(accelerator)
    return {
        "bench_version": bench.__version__,
        "git_commit": env["git_commit"],
        "environment": env,
        "config": config,
        "dataset": {
            "name": data.name,
            "source": data.source,
            "checksum": data.checksum,
            "image_shape": list(data.image_shape),
            "n_train_pool": len(data.train_images),
            "n_test": len(data.test_images),
            "n_initial": len(real.initial),
            # the share of the train pool replaced by an earlier generator's images, and which generator (null: none)
            "contamination": real.contamination,
        },
        "feature_extractor": evaluator.extractor_info,
        "evaluation": {
            "n_generated": plan.n_scored,
            "n_reference": len(evaluator.split.reference),
            "sampling": plan.sampling,
            "real_class_shares": evaluator.real_class_shares,
            # metrics left out, and why (a folder without classes has no mode metrics)
            "skipped": evaluator.skipped,
            # what the data set's own measurements want drawn (tails: minority share, hue histogram)
            "plots": evaluator.plots,
        },
        "metric_info": evaluator.metric_info,
        "floor": evaluator.floor(seed=derive_seed(plan.seed, "floor")),
    }
