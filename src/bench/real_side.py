"""The real side of a run, shared by the loop (`bench.run`) and resampling (`bench.resample`).

The data set, D_0 (a seeded subset of the real train pool), the evaluator that scores images against
held-out real test images, and what a model is told about the data (shape, classes, real class shares).
Rebuilt from the config alone, so a saved run can be rescored exactly as it was scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from bench.contamination import check_share, contaminate
from bench.data import ImageDataset, build_data
from bench.errors import BenchError, check_positive
from bench.evaluation import Evaluator
from bench.seeding import generator


@dataclass(frozen=True)
class RealSide:
    data: ImageDataset
    initial_index: torch.Tensor  # positions of D_0 in `pool`
    initial: torch.Tensor  # D_0, uint8
    evaluator: Evaluator
    # the real train pool the loop draws from: data.train_images, with data.contamination of it replaced by an
    # earlier generator's images (bench.contamination); `contamination` says how (None: a clean pool)
    pool: torch.Tensor
    contamination: dict | None

    @property
    def model_info(self) -> dict:
        """What `bench.models.factory.build_model` injects into a model."""
        return self.evaluator.model_info


def real_side(cfg: DictConfig) -> RealSide:
    data = build_data(cfg.data)
    n_train = check_positive("data.n_train", cfg.data.n_train)
    if n_train > len(data.train_images):
        raise BenchError(
            f"data.n_train={n_train} exceeds the {len(data.train_images)} real training images of {data.name}"
        )
    check_share(cfg.data.get("contamination", 0.0))  # before the extractor loads, let alone an earlier generator trains
    initial_index = torch.randperm(len(data.train_images), generator=generator(cfg.seed, "initial"))[:n_train]
    # the evaluator first: a bad metrics or extractor setting fails before an earlier generator trains
    evaluator = Evaluator(data, cfg.metrics, cache_dir=cfg.cache_dir, data_cfg=cfg.data)
    pool, replaced, contamination = contaminate(cfg, evaluator)
    initial = pool[initial_index]
    if contamination is not None:
        contamination["n_in_initial"] = int(replaced[initial_index].sum())
    # memorisation is measured against what the model trained on: D_0 as drawn from the (contaminated) pool
    evaluator.set_train_images(initial)
    return RealSide(data, initial_index, initial, evaluator, pool, contamination)
