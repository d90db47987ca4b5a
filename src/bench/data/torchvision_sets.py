"""`data=fashion_mnist`, `data=cifar10`: torchvision's data sets, read from torchvision's own files under `data.root`.

With the files in place (as torchvision's download leaves them: `FashionMNIST/raw/*-ubyte[.gz]`,
`cifar-10-batches-py/{data_batch_1..5,test_batch}`) nothing is downloaded. Without them and with
`data.download=true`, torchvision downloads them into `data.root` when the network allows; otherwise the
load stops with one line naming `data.root` and the data sets that work offline.

CIFAR-10's python batches are pickles: they are read with an unpickler that builds only the plain data
they hold (dicts, lists, strings, numpy arrays), so a doctored file cannot run code.
"""

from __future__ import annotations

import contextlib
import io
import pickle  # nosec B403 # read only through _DataOnly, an Unpickler that builds no class or function
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from bench.data.images import ImageDataset
from bench.data.mnist import TORCHVISION_FILES, _read_idx
from bench.errors import BenchError

OFFLINE = "mnist, tails, stacked_mnist, digits"
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = "test_batch"


def _missing(name: str, root, expected: str, why: str) -> BenchError:
    return BenchError(
        f"data={name} found no files under data.root={root!r} (expected {expected}) and {why}; put torchvision's "
        f"files there, or use a data set that works offline: {OFFLINE}"
    )


def _download(name: str, root, expected: str, download: bool, fetch) -> None:
    """Let torchvision download into root; a failure is one line naming data.root."""
    if not download:
        raise _missing(name, root, expected, "data.download=false")
    if root is None:
        raise _missing(name, root, expected, "cannot download without a data.root")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            fetch(str(root))
    except Exception as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise _missing(name, root, expected, f"could not download them ({type(e).__name__}: {reason[:120]})") from None


# Fashion-MNIST: the MNIST idx format


def _idx_dir(root, folder: str) -> Path | None:
    if root is None:
        return None
    for candidate in (Path(root) / folder / "raw", Path(root)):
        if all((candidate / f).is_file() or (candidate / f"{f}.gz").is_file() for f in TORCHVISION_FILES.values()):
            return candidate
    return None


def load_fashion_mnist(*, root: str | None = "data", download: bool = True) -> ImageDataset:
    expected = f"{root}/FashionMNIST/raw/{TORCHVISION_FILES['train_images']}"
    if _idx_dir(root, "FashionMNIST") is None:

        def fetch(r):
            import torchvision

            torchvision.datasets.FashionMNIST(r, train=True, download=True)
            torchvision.datasets.FashionMNIST(r, train=False, download=True)

        _download("fashion_mnist", root, expected, download, fetch)
    folder = _idx_dir(root, "FashionMNIST")
    if folder is None:
        raise _missing("fashion_mnist", root, expected, "the download left none there")
    a = {key: _read_idx(folder, f) for key, f in TORCHVISION_FILES.items()}
    for split in ("train", "test"):
        x, y = a[f"{split}_images"], a[f"{split}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or (len(y) and int(y.max()) > 9):
            raise BenchError(
                f"data=fashion_mnist: {split} files under {folder} hold {x.shape} images, {y.shape} labels"
            )
    return ImageDataset(
        name="fashion_mnist",
        source="torchvision",
        train_images=torch.from_numpy(a["train_images"].copy()).unsqueeze(1),
        train_labels=torch.from_numpy(a["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(a["test_images"].copy()).unsqueeze(1),
        test_labels=torch.from_numpy(a["test_labels"].astype(np.int64)),
        num_classes=10,
    )


# CIFAR-10: python pickles of {"data": uint8 (N, 3072), "labels": [int]}


class _DataOnly(pickle.Unpickler):
    """Builds dicts, lists, strings and numpy arrays; refuses every other global (no code can run)."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to build {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            entry = _DataOnly(f, encoding="latin1").load()
    except Exception as e:
        raise BenchError(f"data=cifar10: {path} is not a CIFAR-10 batch ({type(e).__name__}: {e})") from None
    if not isinstance(entry, dict):
        raise BenchError(f"data=cifar10: {path} holds a {type(entry).__name__}, not a CIFAR-10 batch")
    entry = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
    data, labels = entry.get("data"), entry.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise BenchError(f"data=cifar10: {path} has no uint8 'data' array of shape (N, 3072)")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise BenchError(f"data=cifar10: {path} has {labels.shape} labels for {len(data)} images")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(*, root: str | None = "data", download: bool = True) -> ImageDataset:
    folder = Path(root) / CIFAR_DIR if root is not None else None
    expected = f"{root}/{CIFAR_DIR}/data_batch_1"
    present = lambda: folder is not None and all((folder / f).is_file() for f in [*CIFAR_TRAIN, CIFAR_TEST])
    if not present():

        def fetch(r):
            import torchvision

            torchvision.datasets.CIFAR10(r, train=True, download=True)

        _download("cifar10", root, expected, download, fetch)
    if not present():
        raise _missing("cifar10", root, expected, "the download left none there")
    assert folder is not None
    train = [read_cifar_batch(folder / f) for f in CIFAR_TRAIN]
    test_x, test_y = read_cifar_batch(folder / CIFAR_TEST)
    return ImageDataset(
        name="cifar10",
        source="torchvision",
        train_images=torch.from_numpy(np.concatenate([x for x, _ in train])),
        train_labels=torch.from_numpy(np.concatenate([y for _, y in train])),
        test_images=torch.from_numpy(test_x.copy()),
        test_labels=torch.from_numpy(test_y),
        num_classes=10,
    )
