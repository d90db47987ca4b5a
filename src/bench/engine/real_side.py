"""The real side of a run, shared by the loop (`bench.engine.run`) and resampling (`bench.cli.resample`).

The data set, D_0 (a seeded subset of the real train pool), the evaluator that scores images against
held-out real test images, and what a model is told about the data (shape, classes, real class shares).
Rebuilt from the config alone, so a saved run can be rescored exactly as it was scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from bench.data import ImageDataset, build_data
from bench.engine.contamination import PoolContamination, contaminate
from bench.engine.evaluation import Evaluator
from bench.errors import BenchError
from bench.seeding import generator


@dataclass(frozen=True)
class RealSide:
    data: ImageDataset
    initial_index: torch.Tensor  # positions of D_0 in `pool`
    initial: torch.Tensor  # D_0, uint8
    evaluator: Evaluator
    # the real train pool the loop draws from: data.train_images, with data.contamination of it replaced by an
    # earlier generator's images (bench.engine.contamination); `contamination` says how (None: a clean pool)
    pool: torch.Tensor
    contamination: dict | None

    @property
    def model_info(self) -> dict:
        """What `bench.models.factory.build_model` injects into a model."""
        return self.evaluator.model_info


def real_side(cfg: DictConfig) -> RealSide:
    """The real side of a config: its data, D_0 (seeded by `seed`), scoring and contamination nodes, read here."""
    return build_real_side(
        cfg.data,
        cfg.metrics,
        seed=int(cfg.seed),
        cache_dir=cfg.cache_dir,
        contamination=PoolContamination.of(cfg),
    )


def build_real_side(
    data_cfg: DictConfig, metrics_cfg: DictConfig, *, seed: int, cache_dir: str, contamination: PoolContamination
) -> RealSide:
    """The data set, D_0 drawn from the (contaminated) pool, and the evaluator that scores against its test set."""
    data = build_data(data_cfg)
    n_train = contamination.n_train
    if n_train > len(data.train_images):
        raise BenchError(
            f"data.n_train={n_train} exceeds the {len(data.train_images)} real training images of {data.name}"
        )
    initial_index = torch.randperm(len(data.train_images), generator=generator(seed, "initial"))[:n_train]
    # the evaluator first: a bad metrics or extractor setting fails before an earlier generator trains
    evaluator = Evaluator(data, metrics_cfg, cache_dir=cache_dir, data_cfg=data_cfg)
    pool, replaced, record = contaminate(contamination, evaluator)
    initial = pool[initial_index]
    if record is not None:
        record["n_in_initial"] = int(replaced[initial_index].sum())
    # memorisation is measured against what the model trained on: D_0 as drawn from the (contaminated) pool
    evaluator.set_train_images(initial)
    return RealSide(data, initial_index, initial, evaluator, pool, record)
