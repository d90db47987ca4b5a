"""The in-memory form every data set takes: uint8 images (N, C, H, W) with integer labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ImageDataset:
    """A real data set: train pool and held-out test set, uint8 NCHW, labels int64."""

    name: str
    source: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    num_classes: int

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            assert x.dtype == torch.uint8 and x.ndim == 4, (
                f"{split} images must be uint8 NCHW, got {x.dtype} {tuple(x.shape)}"
            )
            assert y.shape == (x.shape[0],), f"{split} labels {tuple(y.shape)} do not match {x.shape[0]} images"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    @property
    def checksum(self) -> str:
        """sha256 over the raw arrays: identical data from any source gives the same value."""
        return arrays_checksum(self.train_images, self.train_labels, self.test_images, self.test_labels)


def arrays_checksum(*arrays: torch.Tensor) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = a.contiguous()
        h.update(str(tuple(a.shape)).encode())
        # labels are hashed as uint8 so the checksum does not depend on the label dtype a source uses
        h.update((a.to(torch.uint8) if a.dtype != torch.uint8 else a).numpy().tobytes())
    return h.hexdigest()
