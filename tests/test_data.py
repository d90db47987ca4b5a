"""The bundled MNIST is the real MNIST, and torchvision's files give the identical arrays and checksum."""

import gzip

import numpy as np
import pytest

from bench.data import mnist as mnist_module
from bench.data.mnist import TORCHVISION_FILES, load_mnist
from bench.errors import BenchError

CHECKSUM = "7ea4b60ae284dd6359a4172ef4aae04c62afcbff9a2216f9d9dcef92d9e6e65a"


def test_bundled_mnist_is_full_mnist(mnist):
    assert mnist.source == "pureml"
    assert tuple(mnist.train_images.shape) == (60000, 1, 28, 28) and tuple(mnist.test_images.shape) == (
        10000,
        1,
        28,
        28,
    )
    # the well-known class counts of MNIST's test set and the first training labels
    assert mnist.test_labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.checksum == CHECKSUM


def write_idx(folder, name, array, *, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    else:
        (folder / name).write_bytes(data)


@pytest.fixture(scope="module")
def torchvision_root(tmp_path_factory, mnist):
    root = tmp_path_factory.mktemp("tv")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train_images": mnist.train_images.squeeze(1).numpy(),
        "train_labels": mnist.train_labels.numpy(),
        "test_images": mnist.test_images.squeeze(1).numpy(),
        "test_labels": mnist.test_labels.numpy(),
    }
    for key, name in TORCHVISION_FILES.items():
        write_idx(raw, name, arrays[key], compress=key.startswith("test"))  # raw and .gz, as torchvision leaves them
    return root


def test_torchvision_files_give_the_same_data_and_checksum(torchvision_root, mnist):
    tv = load_mnist(root=str(torchvision_root))  # source=auto prefers files that are present
    assert tv.source == "torchvision"
    assert tv.checksum == mnist.checksum == CHECKSUM


def test_damaged_torchvision_file_is_a_clear_error(torchvision_root, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (torchvision_root / "MNIST" / "raw").iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    train = raw / TORCHVISION_FILES["train_images"]
    train.write_bytes(train.read_bytes()[:5000])
    with pytest.raises(BenchError, match="torchvision MNIST source is damaged"):
        load_mnist(source="torchvision", root=str(tmp_path))


def test_missing_sources_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(BenchError, match=r"no MNIST idx files under data\.root"):
        load_mnist(source="torchvision", root=str(tmp_path))
    with pytest.raises(BenchError, match=r"data\.source='web' is not known"):
        load_mnist(source="web")
    monkeypatch.setattr(mnist_module, "pureml_store_path", lambda: tmp_path / "missing.zarr.zip")
    with pytest.raises(BenchError, match="bundled MNIST store is missing"):
        load_mnist(source="pureml")
    broken = tmp_path / "broken.zarr.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    monkeypatch.setattr(mnist_module, "pureml_store_path", lambda: broken)
    with pytest.raises(BenchError, match="cannot be read"):
        load_mnist(source="pureml")
