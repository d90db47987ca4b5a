"""The in-memory form every data set takes: uint8 images (N, C, H, W) with integer labels; and image files read
into it (`read_image`): decoded to what a viewer shows, their size checked from the header before any pixel."""

from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from bench.errors import BenchError


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


# ---------------------------------------------------------------- image files

# the most pixels a source image may have when it is resized to the data set's size (data=folder with
# data.image_size): 4096 x 4096, 48 MiB as RGB; far beyond any data set here, far below a decompression bomb
MAX_SOURCE_PIXELS = 4096 * 4096
MODES = {1: "L", 3: "RGB"}  # channels -> the Pillow mode images are decoded to


def image_mode(channels: int, where: str) -> str:
    """The Pillow mode of a data set with `channels` channels; other channel counts have no image-file form."""
    if channels not in MODES:
        raise BenchError(f"{where}: image files give 1 (grey) or 3 (RGB) channels, the data set has {channels}")
    return MODES[channels]


def open_image(path: Path, where: str) -> Any:
    """`path` opened lazily (Pillow reads the header only: size and mode, no pixels); every failure is one line.

    Pillow's decompression-bomb error (above 2 x Image.MAX_IMAGE_PIXELS) is one line too; its warning (above
    MAX_IMAGE_PIXELS) is silenced, since `read_image`'s own size limits are far lower and come next."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError:
        raise BenchError(
            f"{where}: image {path} has more than {2 * Image.MAX_IMAGE_PIXELS} pixels (a decompression bomb?); "
            "allowed: images of the data set's size"
        ) from None
    except Exception as e:
        raise BenchError(f"{where}: image {path} cannot be read ({type(e).__name__})") from None


def header_size(path: Path, where: str) -> tuple[int, int]:
    """(height, width) of an image file from its header, no pixel decoded."""
    with open_image(path, where) as im:
        width, height = im.size
    return int(height), int(width)


def decode_image(im: Any, mode: str) -> Any:
    """An opened image as a viewer shows it, in `mode` ("L" or "RGB"): palette ("P", "PA") images through their
    palette, 1-bit ones as 0/255, grey-alpha and RGBA with the alpha channel dropped (Pillow's `Image.convert`),
    16-bit grey scaled to 8 bits (Pillow would clip it to 255)."""
    from PIL import Image

    if im.mode.startswith("I;16"):
        im = Image.fromarray((np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8), "L")
    elif im.mode in ("I", "F"):
        raise ValueError(f"mode {im.mode} (32-bit) has no viewer's form; allowed: 8- or 16-bit images")
    return im if im.mode == mode else im.convert(mode)


def read_image(
    path: Path,
    channels: int,
    where: str,
    *,
    size: tuple[int, int] | None = None,
    resize_to: tuple[int, int] | None = None,
) -> np.ndarray:
    """One image file as uint8 (C, H, W), decoded to what a viewer shows in the data set's mode (`decode_image`).

    Its size is checked from the header before any pixel is decoded: `size` (height, width) the only size allowed;
    with `resize_to`, any size up to MAX_SOURCE_PIXELS, resized (bilinear) to it. Every failure is one line."""
    from PIL import Image

    mode = image_mode(channels, where)
    with open_image(path, where) as im:
        width, height = im.size
        if size is not None and (height, width) != tuple(size):
            raise BenchError(
                f"{where}: image {path} is {width}x{height} pixels (width x height); "
                f"allowed: {size[1]}x{size[0]}, the data set's image size"
            )
        if width * height > MAX_SOURCE_PIXELS:
            raise BenchError(
                f"{where}: image {path} is {width}x{height} pixels; allowed: at most {MAX_SOURCE_PIXELS} pixels "
                "(4096 x 4096)"
            )
        try:
            im = decode_image(im, mode)
            if resize_to is not None and im.size != (resize_to[1], resize_to[0]):
                im = im.resize((resize_to[1], resize_to[0]), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
        except Exception as e:
            reason = (str(e).splitlines() or [""])[0][:200]
            raise BenchError(f"{where}: image {path} cannot be read ({type(e).__name__}: {reason})") from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
