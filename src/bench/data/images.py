"""The in-memory form every data set takes: uint8 images (N, C, H, W) with integer labels (image files are read
into it by bench.io.image_files)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch


@dataclass(frozen=True)
class ImageDataset:
    """A real data set: train pool and held-out test set, uint8 NCHW, labels int64.

    `num_classes` 0: no classes (labels all -1); the mode metrics are then skipped. `base_checksum`: the
    checksum of the data set this one is built from (tails and Stacked MNIST: MNIST's), so an extractor
    trained on the base fits. `measure`: an optional per-data-set measurement of images (see `Measure`).
    """

    name: str
    source: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    num_classes: int
    base_checksum: str | None = None
    measure: Measure | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            assert x.dtype == torch.uint8 and x.ndim == 4, (
                f"{split} images must be uint8 NCHW, got {x.dtype} {tuple(x.shape)}"
            )
            assert y.shape == (x.shape[0],), f"{split} labels {tuple(y.shape)} do not match {x.shape[0]} images"
            if self.num_classes == 0:
                assert bool((y == -1).all()), f"a data set without classes labels its {split} images -1"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = (int(v) for v in self.train_images.shape[1:])
        return c, h, w

    @functools.cached_property
    def checksum(self) -> str:
        """sha256 over the raw arrays: identical data from any source gives the same value. Computed once (a full
        pass over the data; the cache keys, the extractor's fit check and the header all ask for it), so the arrays
        of a data set are not to be changed in place."""
        return arrays_checksum(self.train_images, self.train_labels, self.test_images, self.test_labels)


def arrays_checksum(*arrays: torch.Tensor) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = a.contiguous()
        h.update(str(tuple(a.shape)).encode())
        # labels are hashed as uint8 so the checksum does not depend on the label dtype a source uses
        h.update((a.to(torch.uint8) if a.dtype != torch.uint8 else a).numpy().tobytes())
    return h.hexdigest()


class Measure:
    """Extra per-image measurements a data set knows how to make (tails: the colour of each image).

    The evaluator calls `measure(images, labels)` on every generation's samples and on the floor, and
    merges the returned numbers (and lists, e.g. a histogram) into the metrics; `info` describes each key
    like `bench.metrics.METRIC_INFO`, and `plots` tells the report what to draw (`bench.report.plots`):
    {"file": "x.png", "lines": [(key, title), ...], "histograms": [(key, title, bin_edges, x_label), ...],
    "reference": {key: real value}}. The run never names a data set: it only passes this hook on.
    """

    info: ClassVar[dict[str, dict]] = {}
    plots: ClassVar[dict[str, Any]] = {}

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, Any]:
        raise NotImplementedError
