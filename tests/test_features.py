"""The reference feature extractor: shipped weights match their metadata, reach 99% on MNIST test, and fail loudly."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.features import FeatureExtractor, load_extractor
from bench.features.extractor import ASSETS, METADATA_KEYS

torch.set_flush_denormal(True)

WEIGHTS = ASSETS / "mnist_classifier.pt"
METADATA = ASSETS / "mnist_classifier.json"


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return load_extractor()


@pytest.fixture(scope="module")
def mnist():
    from bench.data.mnist import load_mnist

    return load_mnist()


def test_shipped_weights_match_metadata():
    meta = json.loads(METADATA.read_text())
    assert set(METADATA_KEYS) <= set(meta)
    assert meta["name"] == "mnist_classifier"
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == meta["sha256"]
    assert meta["test_accuracy"] >= 0.99
    assert meta["train_command"].startswith("python scripts/train_reference.py")
    assert f"--seed {meta['seed']}" in meta["train_command"] and f"--epochs {meta['epochs']}" in meta["train_command"]
    assert WEIGHTS.stat().st_size < 2_000_000


def test_extractor_attributes(extractor):
    meta = json.loads(METADATA.read_text())
    assert extractor.name == "mnist_classifier"
    assert extractor.sha256 == meta["sha256"]
    assert extractor.feature_dim == meta["feature_dim"] == 128
    assert extractor.num_classes == 10
    assert not extractor.model.training


def test_test_accuracy_at_least_99_percent(extractor, mnist):
    features, labels = extractor.extract(mnist.test_images)
    assert features.shape == (10000, extractor.feature_dim) and features.dtype == torch.float32
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    accuracy = (labels == mnist.test_labels).double().mean().item()
    assert accuracy >= 0.99
    # the shipped metadata reports what the weights actually score
    assert accuracy == pytest.approx(extractor.metadata["test_accuracy"], abs=1e-4)
    # the data set the weights were trained on is the one loaded here
    assert extractor.metadata["trained_on"] == mnist.checksum


def test_features_deterministic_and_batch_independent(extractor, mnist):
    x = mnist.test_images[:300]
    f1, l1 = extractor.extract(x, batch_size=300)
    f2, l2 = extractor.extract(x, batch_size=300)
    assert torch.equal(f1, f2) and torch.equal(l1, l2)
    f3, l3 = extractor.extract(x, batch_size=7)
    torch.testing.assert_close(f3, f1, rtol=1e-5, atol=1e-5)
    assert torch.equal(l3, l1)
    assert torch.isfinite(f1).all() and (f1 >= 0).all()  # post-ReLU
    assert not f1.requires_grad and not f1.is_inference()


def test_fresh_load_gives_same_features(extractor, mnist):
    x = mnist.test_images[:64]
    assert torch.equal(load_extractor().extract(x)[0], extractor.extract(x)[0])


def test_extract_all_and_numpy_input(extractor, mnist):
    x = mnist.test_images[:50]
    out = extractor.extract_all(x)
    assert out.logits.shape == (50, 10)
    assert torch.equal(out.labels, out.logits.argmax(1))
    f_np, l_np = extractor.extract(x.numpy())
    assert torch.equal(f_np, out.features) and torch.equal(l_np, out.labels)


def test_empty_batch(extractor):
    f, labels = extractor.extract(torch.zeros(0, 1, 28, 28, dtype=torch.uint8))
    assert f.shape == (0, 128) and labels.shape == (0,)


@pytest.mark.parametrize(
    "images, match",
    [
        (torch.zeros(4, 3, 28, 28, dtype=torch.uint8), r"shape \(N, 1, 28, 28\); got \(4, 3, 28, 28\)"),
        (torch.zeros(4, 1, 32, 32, dtype=torch.uint8), r"got \(4, 1, 32, 32\)"),
        (torch.zeros(1, 28, 28, dtype=torch.uint8), r"got \(1, 28, 28\)"),
        (torch.zeros(4, 1, 28, 28, dtype=torch.float32), r"uint8.*float32 with shape \(4, 1, 28, 28\)"),
        (np.zeros((2, 1, 28, 28), dtype=np.int64), r"uint8.*int64"),
        ([[0]], r"got list"),
    ],
)
def test_bad_images_raise(extractor, images, match):
    with pytest.raises(BenchError, match=match) as info:
        extractor.extract(images)
    assert "\n" not in str(info.value)


def test_bad_batch_size(extractor, mnist):
    with pytest.raises(BenchError, match="batch_size"):
        extractor.extract(mnist.test_images[:4], batch_size=0)


def test_corrupt_weights_raise(tmp_path):
    bad = tmp_path / "mnist_classifier.pt"
    shutil.copyfile(WEIGHTS, bad)
    raw = bytearray(bad.read_bytes())
    for i in range(len(raw) // 2, len(raw) // 2 + 16):
        raw[i] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(BenchError, match="sha256") as info:
        load_extractor(weights_path=bad)
    message = str(info.value)
    assert str(bad) in message and "\n" not in message


def test_corrupt_weights_with_matching_metadata_raise(tmp_path):
    """Even when someone 'fixes' the JSON to the damaged file's sha256, the load fails cleanly."""
    bad = tmp_path / "w.pt"
    bad.write_bytes(WEIGHTS.read_bytes()[: WEIGHTS.stat().st_size // 2])
    meta = json.loads(METADATA.read_text())
    meta["sha256"] = hashlib.sha256(bad.read_bytes()).hexdigest()
    meta_path = tmp_path / "w.json"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BenchError, match="cannot be loaded") as info:
        load_extractor(weights_path=bad, metadata_path=meta_path)
    assert str(bad) in str(info.value)


def test_pickled_object_is_refused(tmp_path):
    """weights_only=True: a file holding arbitrary pickled objects is never unpickled."""
    bad = tmp_path / "evil.pt"
    torch.save({"conv1.weight": torch.zeros(1), "obj": _Unpicklable()}, bad)
    meta = json.loads(METADATA.read_text())
    meta["sha256"] = hashlib.sha256(bad.read_bytes()).hexdigest()
    meta_path = tmp_path / "evil.json"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BenchError, match="cannot be loaded"):
        load_extractor(weights_path=bad, metadata_path=meta_path)


class _Unpicklable:
    pass


def test_wrong_state_dict_raises(tmp_path):
    bad = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    meta = json.loads(METADATA.read_text())
    meta["sha256"] = hashlib.sha256(bad.read_bytes()).hexdigest()
    meta_path = tmp_path / "other.json"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BenchError, match="do not fit MnistClassifier") as info:
        load_extractor(weights_path=bad, metadata_path=meta_path)
    assert "\n" not in str(info.value)


def test_missing_files_raise(tmp_path):
    with pytest.raises(BenchError, match=r"nope\.pt cannot be read"):
        load_extractor(weights_path=tmp_path / "nope.pt")
    with pytest.raises(BenchError, match=r"nope\.json: cannot be read"):
        load_extractor(metadata_path=tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(BenchError, match=r"broken\.json: not JSON"):
        load_extractor(metadata_path=broken)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"name": "mnist_classifier"}))
    with pytest.raises(BenchError, match="lacks sha256"):
        load_extractor(metadata_path=partial)


def test_unknown_extractor():
    with pytest.raises(BenchError, match=r"'nope' is not shipped \(shipped: digits_classifier, mnist_classifier\)"):
        load_extractor("nope")


def test_weights_without_metadata_beside_them_are_named(tmp_path):
    lone = tmp_path / "my_classifier.pt"
    shutil.copyfile(WEIGHTS, lone)
    with pytest.raises(BenchError, match=r"my_classifier\.pt have no metadata beside them \(.*my_classifier\.json"):
        load_extractor("my_classifier", weights_path=lone)
