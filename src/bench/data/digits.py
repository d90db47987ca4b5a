"""`data=digits`: scikit-learn's 1,797 handwritten digits, 8 x 8, for seconds-long smoke runs.

The images ship inside the scikit-learn wheel (`sklearn/datasets/data/digits.csv.gz`: 64 pixel values in
0..16 and the label per row); they are read from that file directly, without importing scikit-learn.
Pixels are scaled to uint8 as round(v * 255 / 16). A fixed, seeded split holds out `TEST_SIZE` images as
the test set, which nothing trains on (the reference classifier included); the rest is the train pool.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

from bench.data.images import ImageDataset
from bench.errors import BenchError

TEST_SIZE = 500
SPLIT_SEED = 0  # fixed: the held-out test set never changes, whatever the run's seed
CSV = Path("datasets") / "data" / "digits.csv.gz"


def digits_csv() -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError("data=digits needs the package scikit-learn (its wheel carries the digits); pip install -e .")
    path = Path(next(iter(spec.submodule_search_locations))) / CSV
    if not path.is_file():
        raise BenchError(f"data=digits: {path} is missing from scikit-learn; reinstall scikit-learn")
    return path


def load_digits() -> ImageDataset:
    path = digits_csv()
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except Exception as e:
        raise BenchError(f"data=digits: {path} cannot be read ({type(e).__name__}); reinstall scikit-learn") from None
    if table.shape != (1797, 65) or table[:, :64].min() < 0 or table[:, :64].max() > 16:
        raise BenchError(f"data=digits: {path} holds {table.shape} values, not 1797 rows of 64 pixels + label")
    pixels = torch.from_numpy((table[:, :64] * 255 + 8) // 16).to(torch.uint8).reshape(-1, 1, 8, 8)
    labels = torch.from_numpy(table[:, 64])
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return ImageDataset(
        name="digits",
        source="scikit-learn",
        train_images=pixels[train].clone(),
        train_labels=labels[train].clone(),
        test_images=pixels[test].clone(),
        test_labels=labels[test].clone(),
        num_classes=10,
    )
