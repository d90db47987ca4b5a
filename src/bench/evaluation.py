"""Scoring images against held-out real data, in the reference feature space.

The real side (features of the test set, the reference subset's statistics) is computed once and
cached on disk, keyed by the data checksum and the feature extractor's sha256; generated images are
then scored by `bench.metrics.score`, which knows nothing of images or models.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.data.images import ImageDataset
from bench.errors import BenchError
from bench.features import load_extractor
from bench.metrics import RealReference, score, train_nn_distances
from bench.report.atomic import write_bytes
from bench.seeding import generator as seeded_generator


@dataclass(frozen=True)
class RealSplit:
    """Disjoint seeded subsets of the real test set: the reference every sample is scored against, and the floor set."""

    reference: torch.Tensor  # indices into the test set
    floor: torch.Tensor

    @staticmethod
    def make(n_test: int, *, n_reference: int, n_floor: int, seed: int) -> RealSplit:
        # a random subset, never the first or second half: MNIST's test halves come from different writers
        if n_reference + n_floor > n_test:
            raise BenchError(
                f"metrics.n_reference={n_reference} + metrics.n_samples={n_floor} "
                f"exceeds the {n_test} real test images; "
                "the reference and the held-out floor set must be disjoint"
            )
        order = torch.randperm(n_test, generator=seeded_generator(seed, "test_split"))
        return RealSplit(order[:n_reference], order[n_reference : n_reference + n_floor])


class Evaluator:
    """Everything needed to score a set of uint8 images against the real reference."""

    def __init__(
        self, dataset: ImageDataset, metrics_cfg, *, cache_dir: str | Path, train_images: torch.Tensor | None = None
    ):
        self.cfg = metrics_cfg
        self.dataset = dataset
        self.extractor = load_extractor(metrics_cfg.extractor)
        self.cache_dir = Path(cache_dir)
        n = int(metrics_cfg.n_samples)
        if n <= 0:
            raise BenchError(f"metrics.n_samples={n} must be a positive integer")
        if n < int(metrics_cfg.kid_subset_size):
            raise BenchError(
                f"metrics.n_samples={n} is fewer than metrics.kid_subset_size={metrics_cfg.kid_subset_size}; "
                "KID needs at least that many samples"
            )
        if int(metrics_cfg.n_reference) <= 0:
            raise BenchError(f"metrics.n_reference={metrics_cfg.n_reference} must be a positive integer")
        self.split = RealSplit.make(
            len(dataset.test_images),
            n_reference=int(metrics_cfg.n_reference),
            n_floor=n,
            seed=int(metrics_cfg.get("split_seed", 0)),
        )
        test_feats, test_labels = self.test_features()
        self.reference = self._reference(test_feats, test_labels)
        self.floor_features = (test_feats[self.split.floor], test_labels[self.split.floor])
        # the generator's real training set D_0, for memorisation; its own nearest-neighbour distances computed once
        self.train_features = self.extractor.extract(train_images)[0] if train_images is not None else None
        self.train_nn = train_nn_distances(self.train_features) if train_images is not None else None

    @property
    def real_class_shares(self) -> list[float]:
        counts = self.reference.class_counts.double()
        return (counts / counts.sum()).tolist()

    @property
    def extractor_info(self) -> dict:
        return {
            "name": self.extractor.name,
            "sha256": self.extractor.sha256,
            **{k: v for k, v in self.extractor.metadata.items() if k in ("test_accuracy", "feature_dim")},
        }

    def _cache_path(self, what: str) -> Path:
        data = f"{self.dataset.name}-{self.dataset.checksum[:16]}"
        extractor = f"{self.extractor.name}-{self.extractor.sha256[:16]}"
        return self.cache_dir / f"{data}-{extractor}-{what}.pt"

    def _cached(self, what: str, compute):
        path = self._cache_path(what)
        if path.is_file():
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception:
                pass  # a damaged cache entry is recomputed, never trusted
        value = compute()
        buf = io.BytesIO()
        torch.save(value, buf)
        write_bytes(path, buf.getvalue())
        return value

    def test_features(self) -> tuple[torch.Tensor, torch.Tensor]:
        d = self._cached(
            "test-features",
            lambda: dict(zip(("features", "labels"), self.extractor.extract(self.dataset.test_images), strict=True)),
        )
        return d["features"], d["labels"]

    def _reference(self, test_feats, test_labels) -> RealReference:
        key = hashlib.sha256(self.split.reference.numpy().tobytes()).hexdigest()[:12]
        kw = dict(
            num_classes=self.dataset.num_classes,
            k_pr=int(self.cfg.k_precision_recall),
            k_dc=int(self.cfg.k_density_coverage),
        )
        what = f"reference-{key}-k{kw['k_pr']}-{kw['k_dc']}"
        state = self._cached(
            what,
            lambda: RealReference.from_features(
                test_feats[self.split.reference], test_labels[self.split.reference], **kw
            ).to_dict(),
        )
        return RealReference.from_dict(state, source=str(self._cache_path(what)))

    def score_features(self, feats: torch.Tensor, labels: torch.Tensor, *, seed: int) -> dict:
        return score(
            self.reference,
            feats,
            labels,
            train_feats=self.train_features,
            train_nn=self.train_nn,
            kid_subset_size=int(self.cfg.kid_subset_size),
            kid_subsets=int(self.cfg.kid_subsets),
            bootstrap=int(self.cfg.bootstrap),
            seed=seed,
        )

    def score_images(self, images: torch.Tensor, *, seed: int) -> dict:
        feats, labels = self.extractor.extract(images)
        return self.score_features(feats, labels, seed=seed)

    def floor(self, *, seed: int) -> dict:
        """The same metrics for held-out real images: what a perfect generator scores at this sample size."""
        return self.score_features(*self.floor_features, seed=seed)
