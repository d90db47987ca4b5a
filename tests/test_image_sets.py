"""torchvision's data sets and image folders: read from files in torchvision's formats (written here, no network),
and a one-line error naming data.root when the files are not there and cannot be downloaded."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data.folder import load_folder
from bench.data.mnist import TORCHVISION_FILES
from bench.data.torchvision_sets import CIFAR_DIR, load_cifar10, load_fashion_mnist, read_cifar_batch
from bench.errors import BenchError

RNG = np.random.default_rng(0)
OFFLINE = "use a data set that works offline: mnist, tails, stacked_mnist, digits"


def write_idx(folder, name, array, *, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (folder / (f"{name}.gz" if compress else name)).write_bytes(gzip.compress(data) if compress else data)


def test_fashion_mnist_reads_torchvision_files(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train_images": RNG.integers(0, 256, (30, 28, 28)),
        "train_labels": RNG.integers(0, 10, 30),
        "test_images": RNG.integers(0, 256, (12, 28, 28)),
        "test_labels": RNG.integers(0, 10, 12),
    }
    for key, name in TORCHVISION_FILES.items():
        write_idx(raw, name, arrays[key], compress=key.startswith("test"))  # as torchvision leaves them: some .gz
    data = load_fashion_mnist(root=str(tmp_path), download=False)
    assert data.name == "fashion_mnist" and data.image_shape == (1, 28, 28) and data.num_classes == 10
    assert np.array_equal(data.train_images[:, 0].numpy(), arrays["train_images"])
    assert np.array_equal(data.test_labels.numpy(), arrays["test_labels"])


def write_cifar(root, n_per_batch=4):
    folder = root / CIFAR_DIR
    folder.mkdir(parents=True)
    batches = {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = RNG.integers(0, 256, (n_per_batch, 3072)).astype(np.uint8)
        labels = RNG.integers(0, 10, n_per_batch).tolist()
        entry = {"batch_label": name, "labels": labels, "data": data, "filenames": [f"{i}.png" for i in labels]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)  # the python-2 era protocol of the real files
        batches[name] = (data, labels)
    return batches


def test_cifar10_reads_torchvision_files(tmp_path):
    batches = write_cifar(tmp_path)
    data = load_cifar10(root=str(tmp_path), download=False)
    assert data.image_shape == (3, 32, 32) and len(data.train_images) == 20 and len(data.test_images) == 4
    x, y = batches["data_batch_2"]
    assert np.array_equal(data.train_images[4:8].numpy(), x.reshape(-1, 3, 32, 32))
    assert data.train_labels[4:8].tolist() == y


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path):
    bad = tmp_path / "data_batch_1"
    with open(bad, "wb") as f:
        pickle.dump({"data": _Evil(), "labels": []}, f, protocol=2)
    with pytest.raises(BenchError, match=r"refusing to build (posix|os|nt)\.system") as info:
        read_cifar_batch(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("loader", "name", "expected"),
    [
        (load_fashion_mnist, "fashion_mnist", "FashionMNIST/raw/train-images-idx3-ubyte"),
        (load_cifar10, "cifar10", f"{CIFAR_DIR}/data_batch_1"),
    ],
)
def test_offline_without_files_is_one_line_naming_data_root(tmp_path, loader, name, expected):
    with pytest.raises(BenchError) as info:
        loader(root=str(tmp_path), download=False)
    message = str(info.value)
    assert "\n" not in message and f"data={name} found no files under data.root='{tmp_path}'" in message
    assert expected in message and "data.download=false" in message and OFFLINE in message


def test_a_failed_download_is_one_line_naming_data_root(tmp_path, monkeypatch):
    import torchvision

    class NoNetwork:
        def __init__(self, *a, **k):
            print("Downloading ... (torchvision's chatter is not shown)")
            raise RuntimeError(
                "Error downloading train-images-idx3-ubyte.gz:\nTried http://..., got: Name or service not known"
            )

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", NoNetwork)
    with pytest.raises(BenchError) as info:
        load_fashion_mnist(root=str(tmp_path), download=True)
    message = str(info.value)
    assert "\n" not in message and f"data.root='{tmp_path}'" in message
    assert "could not download them (RuntimeError: Tried http://..., got: Name or service not known)" in message
    assert OFFLINE in message


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for c, colour in (("cats", 200), ("dogs", 50)):
        for i in range(5):
            write_png(tmp_path / c / f"{i}.png", np.full((6, 6, 3), colour + i, np.uint8))
    data = load_folder(root=str(tmp_path), test_fraction=0.2)
    assert data.num_classes == 2 and data.image_shape == (3, 6, 6)
    assert len(data.train_images) == 8 and len(data.test_images) == 2
    images, labels = torch.cat([data.train_images, data.test_images]), torch.cat([data.train_labels, data.test_labels])
    for x, y in zip(images, labels, strict=True):  # cats (class 0) are the bright ones
        assert (int(x[0, 0, 0]) >= 200) == (int(y) == 0)
    assert load_folder(root=str(tmp_path)).checksum == data.checksum
    grey = load_folder(root=str(tmp_path), channels=1, image_size=4)
    assert grey.image_shape == (1, 4, 4)


def test_folder_without_classes_and_bad_folders(tmp_path):
    for i in range(4):
        write_png(tmp_path / "flat" / f"{i}.png", np.full((5, 5), 10 * i, np.uint8))
    data = load_folder(root=str(tmp_path / "flat"), channels=1)
    assert data.num_classes == 0 and bool((data.train_labels == -1).all())
    write_png(tmp_path / "flat" / "big.png", np.zeros((7, 7), np.uint8))
    with pytest.raises(BenchError, match=r"mixes image sizes .*; set data.image_size=\[H, W\] to resize"):
        load_folder(root=str(tmp_path / "flat"))
    with pytest.raises(BenchError, match=r"data=folder needs data.root, a folder of images"):
        load_folder(root=None)
    with pytest.raises(BenchError, match=r"data.channels=2 is not allowed; allowed: 1 \(grey\), 3 \(RGB\)"):
        load_folder(root=str(tmp_path / "flat"), channels=2)
