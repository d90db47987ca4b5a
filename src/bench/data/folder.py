"""`data=folder`: any folder of images, `data.root`; with class subfolders (torchvision's ImageFolder layout,
root/<class>/<image>) the classes are the subfolder names, sorted; with the images directly in root there
are no classes, and the mode metrics are skipped.

Images are read with Pillow (png, jpg, jpeg, bmp, gif, webp, tif, tiff) as a viewer shows them, converted to
`data.channels` (3: RGB, 1: grey): palette and 1-bit images through Pillow's `Image.convert`, never as their raw
palette indices (bench.io.image_files.read_image). With `data.image_size` set they are resized to it (bilinear), from
at most 4096 x 4096 pixels; without it they must all have one size. Sizes are read from the headers before any
pixel is decoded, so an oversized file is refused in one line without being decoded.
A seeded split (`data.test_fraction`, `data.split_seed`) holds out the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.data.images import ImageDataset
from bench.errors import BenchError, check_fraction
from bench.io.image_files import header_size, read_image

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def load_folder(
    *,
    root: str | None = None,
    channels: int = 3,
    image_size: int | list[int] | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> ImageDataset:
    if root is None or not Path(root).is_dir():
        raise BenchError(
            f"data=folder needs data.root, a folder of images (or of class subfolders of images); got {root!r}"
        )
    if channels not in (1, 3):
        raise BenchError(f"data.channels={channels!r} is not allowed; allowed: 1 (grey), 3 (RGB)")
    size = None
    if image_size is not None:
        size = (int(image_size), int(image_size)) if isinstance(image_size, int) else tuple(int(v) for v in image_size)
        if len(size) != 2 or min(size) < 1:
            raise BenchError(f"data.image_size={image_size!r} must be a positive integer or [height, width]")
    check_fraction("data.test_fraction", test_fraction)
    base = Path(root)
    classes = sorted(p.name for p in base.iterdir() if p.is_dir() and _images_in(p))
    loose = _images_in(base)
    if classes and loose:
        raise BenchError(
            f"data.root={root!r} holds both images and class subfolders ({', '.join(classes[:3])}); use one layout"
        )
    files = (
        [(f, i) for i, c in enumerate(classes) for f in _images_in(base / c)] if classes else [(f, -1) for f in loose]
    )
    if len(files) < 2:
        raise BenchError(f"data.root={root!r} holds {len(files)} images ({', '.join(EXTENSIONS)}); at least 2 needed")
    where = "data=folder"
    if size is None:  # one size for all, from the headers, before any pixel is decoded
        sizes = sorted({header_size(f, where) for f, _ in files})
        if len(sizes) > 1:
            raise BenchError(f"data.root={root!r} mixes image sizes {sizes[:3]}; set data.image_size=[H, W] to resize")
        arrays = [read_image(f, channels, where, size=sizes[0]) for f, _ in files]
    else:
        arrays = [read_image(f, channels, where, resize_to=size) for f, _ in files]
    images = torch.from_numpy(np.stack(arrays))
    labels = torch.tensor([y for _, y in files], dtype=torch.int64)
    n_test = max(1, round(test_fraction * len(files)))
    if n_test >= len(files):
        raise BenchError(f"data.test_fraction={test_fraction} leaves no training images of {len(files)}")
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(int(split_seed)))
    test, train = order[:n_test], order[n_test:]
    return ImageDataset(
        name="folder",
        source=str(base.resolve()),
        train_images=images[train],
        train_labels=labels[train],
        test_images=images[test],
        test_labels=labels[test],
        num_classes=len(classes),
    )
