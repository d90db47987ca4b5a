"""Scoring images against held-out real data, in the reference feature space.

The real side (features of the test set, the reference subset's statistics) is computed once and
cached on disk, keyed by the data checksum and the feature extractor's sha256; generated images are
then scored by `bench.metrics.score`, which knows nothing of images or models, plus whatever the data set
measures itself (`ImageDataset.measure`: tails' colours, Stacked MNIST's mode counts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.data.images import ImageDataset
from bench.errors import BenchError
from bench.features import FeatureExtractor, extractors_for
from bench.io.atomic import torch_bytes, write_bytes
from bench.metrics import METRIC_INFO, RealReference, own_data_metrics, score, train_nn_distances
from bench.metrics.reference import REFERENCE_VERSION
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
    """Everything needed to score a set of uint8 images against the real reference.

    Features come from `extractor`, class labels from `classifier` (the same object when the feature space
    has classes; None when no fitting classifier exists, and the mode metrics are then skipped). Both are
    chosen by `bench.features.extractors_for` from `metrics.extractor` and `data.extractor`, and both must
    fit the data set (input shape, training data, classes), or scoring stops in one line.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        metrics_cfg,
        *,
        cache_dir: str | Path,
        data_cfg=None,
    ):
        self.cfg = metrics_cfg
        self.dataset = dataset
        self.extractor, self.classifier = extractors_for(metrics_cfg, data_cfg, dataset)
        self.measure = dataset.measure
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
        floor_labels = test_labels[self.split.floor] if test_labels is not None else None
        self.floor_features = (test_feats[self.split.floor], floor_labels)
        # the generator's training set D_0, for memorisation (`set_train_images`; none: memorisation is skipped)
        self.train_images: torch.Tensor | None = None
        self.train_features: torch.Tensor | None = None
        self.train_nn: torch.Tensor | None = None

    def set_train_images(self, train_images: torch.Tensor) -> None:
        """D_0, for memorisation: its features and its own nearest-neighbour distances, computed once."""
        self.train_images = train_images
        self.train_features = self.extractor.extract(train_images)[0]
        self.train_nn = train_nn_distances(self.train_features)

    @property
    def num_classes(self) -> int | None:
        return self.classifier.num_classes if self.classifier is not None else None

    @property
    def model_info(self) -> dict:
        """What `bench.models.factory.build_model` injects into a model of this data set."""
        return {
            "image_shape": self.dataset.image_shape,
            "num_classes": self.num_classes,
            "class_shares": self.real_class_shares,
        }

    def training_labels(self, model, images: torch.Tensor) -> torch.Tensor | None:
        """The class labels of a training set, for a model that trains on them (`needs_labels`: a conditional
        DDPM), from the reference classifier, real and synthetic images alike; None for the other models, which
        are not made to wait for a classifier pass."""
        if not getattr(model, "needs_labels", False) or self.classifier is None:
            return None
        return self.classifier.extract(images)[1]

    @property
    def real_class_shares(self) -> list[float] | None:
        if self.reference.class_counts is None:
            return None
        counts = self.reference.class_counts.double()
        return (counts / counts.sum()).tolist()

    @property
    def extractor_info(self) -> dict:
        """The feature space that scored (results.json `feature_extractor`), and where class labels came from."""
        info = dict(self.extractor.info)
        info["classes_from"] = self.classifier.name if self.classifier is not None else None
        if self.classifier is not None and self.classifier is not self.extractor:
            info["classifier"] = self.classifier.info
        return info

    @property
    def skipped(self) -> dict[str, str]:
        """Metrics not computed, and why (results.json `evaluation.skipped`)."""
        if self.classifier is not None:
            return {}
        why = f"data={self.dataset.name} has no classes and {self.extractor.name} no classifier"
        return {k: why for k in ("classes_covered", "kl_gen_real", "tv", "min_class_share", "class_shares")}

    @property
    def metric_info(self) -> dict:
        """METRIC_INFO plus the data set's own measurements (e.g. tails' minority_share)."""
        return {**METRIC_INFO, **(self.measure.info if self.measure is not None else {})}

    @property
    def plots(self) -> dict:
        """What the data set's measurements want drawn ({} for none); see `bench.data.images.Measure`."""
        return dict(self.measure.plots) if self.measure is not None else {}

    def _cache_path(self, what: str, extractor: FeatureExtractor | None = None) -> Path:
        ex = extractor or self.extractor
        data = f"{self.dataset.name}-{self.dataset.checksum[:16]}"
        return self.cache_dir / f"{data}-{ex.name}-{ex.sha256[:16]}-{what}.pt"

    def _cached(self, what: str, compute, extractor: FeatureExtractor | None = None):
        path = self._cache_path(what, extractor)
        if path.is_file():
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception:
                pass  # nosec B110 # a damaged cache entry is recomputed, never trusted
        value = compute()
        write_bytes(path, torch_bytes(value))
        return value

    def extract(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features in the scoring space and class labels (None without a classifier)."""
        out = self.extractor.extract_all(images)
        if self.classifier is None or self.classifier is self.extractor:
            return out.features, out.labels
        return out.features, self.classifier.extract(images)[1]

    def test_features(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        images = self.dataset.test_images
        if self.classifier is None or self.classifier is self.extractor:
            d = self._cached(
                "test-features", lambda: dict(zip(("features", "labels"), self.extract(images), strict=True))
            )
            return d["features"], d["labels"]
        feats = self._cached("test-features", lambda: {"features": self.extractor.extract(images)[0]})["features"]
        labels = self._cached(
            "test-labels", lambda: {"labels": self.classifier.extract(images)[1]}, extractor=self.classifier
        )["labels"]
        return feats, labels

    def _reference(self, test_feats, test_labels) -> RealReference:
        key = hashlib.sha256(self.split.reference.numpy().tobytes()).hexdigest()[:12]
        labels = test_labels[self.split.reference] if test_labels is not None else None
        num_classes = self.num_classes if labels is not None else None
        kw = {"k_pr": int(self.cfg.k_precision_recall), "k_dc": int(self.cfg.k_density_coverage)}
        classes = (
            "" if self.classifier in (None, self.extractor) else f"-{self.classifier.name}-{self.classifier.sha256[:8]}"
        )
        # the format version is part of the name: an entry of an older format is never loaded, only recomputed
        what = f"reference-v{REFERENCE_VERSION}-{key}-k{kw['k_pr']}-{kw['k_dc']}{classes}"
        state = self._cached(
            what,
            lambda: RealReference.from_features(
                test_feats[self.split.reference], labels, num_classes=num_classes, **kw
            ).to_dict(),
        )
        return RealReference.from_dict(state, source=str(self._cache_path(what)))

    def score_features(self, feats: torch.Tensor, labels: torch.Tensor | None, *, seed: int) -> dict:
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

    def score_images(self, images: torch.Tensor, *, seed: int, training_images: torch.Tensor | None = None) -> dict:
        """The metric suite of `images`; with `training_images` (the generation's own training set D_t) also
        memorisation of D_t and the entropies of D_t and of the images (`bench.metrics.own_data`)."""
        feats, labels = self.extract(images)
        out = self.score_features(feats, labels, seed=seed)
        if training_images is not None:
            out.update(self.own_data(training_images, feats))
        if self.measure is not None:
            out.update(self.measure(images, labels))
        return out

    def own_data(self, training_images: torch.Tensor, feats: torch.Tensor) -> dict:
        """`own_data_metrics` of D_t; D_0 itself (generation 0, the floor) reuses its features and neighbour distances,
        computed once a run (`set_train_images`)."""
        if training_images is self.train_images:
            return own_data_metrics(self.train_features, feats, dt_nn=self.train_nn)
        return own_data_metrics(self.extractor.extract(training_images)[0], feats)

    def floor(self, *, seed: int) -> dict:
        """The same metrics for held-out real images: what a perfect generator scores at this sample size (their
        own-data metrics against D_0: what a generator of new images from D_0's distribution scores there)."""
        out = self.score_features(*self.floor_features, seed=seed)
        if self.train_images is not None:
            out.update(self.own_data(self.train_images, self.floor_features[0]))
        if self.measure is not None:
            out.update(self.measure(self.dataset.test_images[self.split.floor], self.floor_features[1]))
        return out
