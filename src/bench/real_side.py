"""The real side of a run, shared by the loop (`bench.run`) and resampling (`bench.resample`).

The data set, D_0 (a seeded subset of the real train pool), the evaluator that scores images against
held-out real test images, and what a model is told about the data (shape, classes, real class shares).
Rebuilt from the config alone, so a saved run can be rescored exactly as it was scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from bench.data import ImageDataset, build_data
from bench.errors import BenchError, check_positive
from bench.evaluation import Evaluator
from bench.seeding import generator


@dataclass(frozen=True)
class RealSide:
    data: ImageDataset
    initial_index: torch.Tensor  # positions of D_0 in data.train_images
    initial: torch.Tensor  # D_0, uint8
    evaluator: Evaluator

    @property
    def model_info(self) -> dict:
        """What `bench.models.factory.build_model` injects into a model."""
        return {
            "image_shape": self.data.image_shape,
            "num_classes": self.evaluator.num_classes,
            "class_shares": self.evaluator.real_class_shares,
        }


def real_side(cfg: DictConfig) -> RealSide:
    data = build_data(cfg.data)
    n_train = check_positive("data.n_train", cfg.data.n_train)
    if n_train > len(data.train_images):
        raise BenchError(
            f"data.n_train={n_train} exceeds the {len(data.train_images)} real training images of {data.name}"
        )
    initial_index = torch.randperm(len(data.train_images), generator=generator(cfg.seed, "initial"))[:n_train]
    initial = data.train_images[initial_index]
    evaluator = Evaluator(data, cfg.metrics, cache_dir=cfg.cache_dir, train_images=initial, data_cfg=cfg.data)
    return RealSide(data, initial_index, initial, evaluator)
