"""scripts/train_reference.py --data NAME on a tiny labelled data set: seeded, byte-reproducible, and the weights
it writes load as that data set's feature space (sha256, accuracy and data checksum recorded)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.config import compose
from bench.data import build_data
from bench.features import extractors_for, load_extractor

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("train_reference", REPO / "scripts" / "train_reference.py")
assert spec is not None and spec.loader is not None
train_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_reference)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """40 8x8 grey images in 2 classes: bright squares and dark ones."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, (lo, hi) in enumerate(((0, 80), (170, 255))):
        (root / f"class{c}").mkdir()
        for i in range(20):
            Image.fromarray(rng.integers(lo, hi, (8, 8), dtype=np.uint8)).save(root / f"class{c}" / f"{i}.png")
    return root


def train(out, folder, *extra):
    args = ["--data", "folder", "--epochs", "3", "--out", str(out), *extra, f"data.root={folder}", "data.channels=1"]
    return train_reference.main(args)


def test_trains_any_labelled_data_set_reproducibly(tmp_path, tiny_folder, capsys):
    assert train(tmp_path / "a", tiny_folder) == 0
    assert train(tmp_path / "b", tiny_folder) == 0
    weights = (tmp_path / "a" / "folder_classifier.pt").read_bytes()
    assert weights == (tmp_path / "b" / "folder_classifier.pt").read_bytes(), "same seed, same bytes"
    meta = json.loads((tmp_path / "a" / "folder_classifier.json").read_text())
    cfg = compose(["data=folder", f"data.root={tiny_folder}", "data.channels=1"])
    data = build_data(cfg.data)
    assert meta["sha256"] == hashlib.sha256(weights).hexdigest()
    assert meta["trained_on"] == data.checksum and meta["input_shape"] == [1, 8, 8] and meta["num_classes"] == 2
    assert meta["network"] == "SmallCNN" and 0 <= meta["test_accuracy"] <= 1
    assert meta["train_command"].startswith("python scripts/train_reference.py --data folder --seed 0 --epochs 3")
    # the data config points at the weights: the folder is scored in its own feature space
    cfg.data.extractor.weights_path = str(tmp_path / "a" / "folder_classifier.pt")
    features, classes = extractors_for(cfg.metrics, cfg.data, data)
    assert features is classes and features.sha256 == meta["sha256"] and features.input_shape == (1, 8, 8)
    other_seed = tmp_path / "c"
    assert train(other_seed, tiny_folder, "--seed", "1") == 0
    assert (other_seed / "folder_classifier.pt").read_bytes() != weights


def test_refuses_data_sets_it_cannot_train(tmp_path, tiny_folder, capsys):
    unlabelled = tmp_path / "flat"
    unlabelled.mkdir()
    for f in (tiny_folder / "class0").iterdir():
        (unlabelled / f.name).write_bytes(f.read_bytes())
    assert train_reference.main(["--data", "folder", f"data.root={unlabelled}", "--out", str(tmp_path)]) == 2
    assert "data=folder has no classes" in capsys.readouterr().err
    assert train_reference.main(["--data", "tails", "--out", str(tmp_path)]) == 2
    assert "data=tails is built from another data set" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pt"))


def test_refuses_weights_below_the_accuracy_floor(tmp_path, tiny_folder, capsys):
    assert train(tmp_path, tiny_folder, "--min-accuracy", "1.01") == 1
    assert "weights not written" in capsys.readouterr().err and not list(tmp_path.glob("*.pt"))


def test_missing_weights_of_a_data_set_say_how_to_train_them():
    from bench.errors import BenchError

    with pytest.raises(
        BenchError, match=r"'cifar10_classifier' is not shipped .*scripts/train_reference\.py --data NAME"
    ):
        load_extractor("cifar10_classifier")
