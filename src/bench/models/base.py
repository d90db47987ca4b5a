"""What the loop needs from a model, and nothing more.

A model is a LightningModule built with the data's `image_shape` injected (never written in YAML).
It trains on batches of uint8 images (a 1-tuple from a TensorDataset) and samples uint8 images.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class GenerativeModel(Protocol):
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        """n uint8 images shaped (n, *image_shape)."""

    def diagnostics(self, images: torch.Tensor) -> dict:
        """Training-health numbers on uint8 images, plus a `warnings` list of strings (may be empty).

        The loop records these per generation so a failed training is never read as collapse.
        """
