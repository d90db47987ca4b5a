"""Curation before retraining (`loop.curation`): keep the synthetic images a filter likes best.

With curation the run draws synthetic_size / curation_keep candidates from each model (`Loop.n_candidates`); when
a later generation's training set takes S_s, it gets the synthetic_size candidates that score highest, so D_t
has the same size with and without curation and only its content differs. Scores (higher is kept):

* confidence: the reference classifier's top class probability (a self-correction in the spirit of Gillman et
  al. 2024: keep what an expert model recognises);
* nearest_real: minus the feature distance to the nearest image of D_0 (a realism filter);
* detector: minus the log-odds of the real-vs-synthetic detector (`bench.engine.detector`, the audit's too), trained on
  D_0 against the fixed earlier generator's images (`bench.engine.contamination`);
* verifier: the top-class probability of a classifier trained on `loop.verifier_n_labelled` labelled real images
  (`bench.engine.verifier`): a verifier whose quality is a setting (Feng et al. 2025); its held-out accuracy is
  recorded;
* entropy: not a score per image but a set: greedy max-min selection that keeps the k-NN entropy of the kept images
  high (`bench.engine.entropy_selection`, after Shi et al. 2025).

Scores are deterministic (no randomness), so a resumed run curates exactly as an uninterrupted one; ties keep
the earlier candidate. Each generation's record says what was kept: candidates, kept, the kept share, the score
threshold, mean scores and the class shares before and after (in the reference classifier's classes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench.engine.contamination import PoolContamination, earlier_generator
from bench.engine.detector import Detector, train_detector
from bench.engine.entropy_selection import maximin_selection
from bench.engine.evaluation import Evaluator
from bench.engine.real_side import RealSide
from bench.engine.verifier import train_verifier
from bench.errors import BenchError
from bench.loops import Loop
from bench.metrics.entropy import knn_entropy
from bench.metrics.memorization import nearest


class Curator:
    def __init__(self, loop: Loop, real: RealSide, contamination: PoolContamination, *, seed: int) -> None:
        """`contamination`: the earlier generator whose images the detector learns (method `detector`); `seed`: the
        run's, which draws and trains the verifier (method `verifier`)."""
        assert loop.curation is not None
        self.method = loop.curation
        self.keep = loop.synthetic_size
        # S_s may hold more images than the candidates (the run draws max(candidates, metrics.n_samples) to score
        # them): curation ranks the first `candidates`, so the kept share is the configured one
        self.candidates = loop.n_candidates
        self.evaluator = real.evaluator
        if self.method == "confidence" and real.evaluator.classifier is None:
            raise BenchError(
                f"loop.curation=confidence needs a classifier for data={real.data.name}, which has none; "
                "use nearest_real or detector"
            )
        real_features = real.evaluator.train_features  # D_0 in the scoring feature space
        assert real_features is not None, "run.py builds the evaluator with D_0"
        self.real_features: torch.Tensor = real_features
        self.detector = curation_detector(contamination, real.evaluator) if self.method == "detector" else None
        # loop.curation=verifier: a classifier of the chosen quality, trained once per run (deterministic by its seed)
        self.verifier = (
            train_verifier(real.evaluator, loop.verifier_n_labelled, seed=seed) if self.method == "verifier" else None
        )
        self._curated: dict[int, tuple[torch.Tensor, dict]] = {}
        self._used: set[int] = set()

    def wrap(self, load: Callable[[int], torch.Tensor]) -> Callable[[int], torch.Tensor]:
        """`LoopContext.synthetic` with curation: s -> the kept images of S_s."""

        def curated(s: int) -> torch.Tensor:
            if s not in self._curated:
                self._curated[s] = self.curate(load(s)[: self.candidates])
            self._used.add(s)
            return self._curated[s][0]

        return curated

    def start_generation(self) -> None:
        self._used = set()

    def report(self) -> dict[str, Any] | None:
        """What the last `training_set` call kept, for the generation's record (None: it took no synthetic set)."""
        if not self._used:
            return None
        return {
            "method": self.method,
            "sets": {f"S_{s}": self._curated[s][1] for s in sorted(self._used)},
        }

    def scores(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(score per image, higher kept; class labels in the reference classifier, or None)."""
        ex = self.evaluator.extractor.extract_all(images)
        classifier = self.evaluator.classifier
        logits, labels = ex.logits, ex.labels
        if classifier is not self.evaluator.extractor:  # classes from another network than the features (or none)
            out = classifier.extract_all(images) if classifier is not None else None
            logits, labels = (out.logits, out.labels) if out is not None else (None, None)
        if self.method == "confidence":
            assert logits is not None, "loop.curation=confidence needs a classifier (checked when the loop starts)"
            return torch.softmax(logits.double(), dim=1).max(dim=1).values, labels
        if self.method == "nearest_real":
            return -nearest(ex.features, self.real_features)[0].double(), labels
        if self.method == "verifier":
            assert self.verifier is not None
            return self.verifier.confidence(images)[0], labels
        assert self.detector is not None
        return -self.detector.logit(ex.features), labels

    def curate(self, images: torch.Tensor) -> tuple[torch.Tensor, dict]:
        if self.keep > len(images):
            raise AssertionError(f"{len(images)} candidates cannot give {self.keep} curated images")
        if self.method == "entropy":
            kept, labels, stats = self.select_by_entropy(images)
        else:
            kept, labels, stats = self.select_by_score(images)
        stats = {"candidates": len(images), "kept": self.keep, "kept_share": self.keep / len(images), **stats}
        if self.verifier is not None:
            stats["verifier"] = self.verifier.info
        n_classes = self.evaluator.num_classes
        if labels is not None and n_classes:
            stats["class_shares_candidates"] = (torch.bincount(labels, minlength=n_classes) / len(labels)).tolist()
            stats["class_shares_kept"] = (torch.bincount(labels[kept], minlength=n_classes) / self.keep).tolist()
        return images[kept], stats

    def select_by_score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """The `keep` best-scoring candidates (ascending indices), their classes, and the scores' summary."""
        scores, labels = self.scores(images)
        # stable: among equal scores the earlier candidate is kept
        order = torch.sort(-scores, stable=True).indices
        kept = order[: self.keep].sort().values
        return (
            kept,
            labels,
            {
                "threshold": float(scores[order[self.keep - 1]]),
                "score_mean_candidates": float(scores.mean()),
                "score_mean_kept": float(scores[kept].mean()),
            },
        )

    def select_by_entropy(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """Greedy max-min selection in the reference feature space (bench.engine.entropy_selection); the record
        compares the kept set's k-NN entropy with that of as many candidates taken as drawn (no curation)."""
        features, labels = self.evaluator.extract(images)
        kept, smallest_gap = maximin_selection(features, self.keep)
        return (
            kept,
            labels,
            {
                "threshold": smallest_gap,
                "entropy_uncurated": knn_entropy(features[: self.keep])["entropy"],
                "entropy_kept": knn_entropy(features[kept])["entropy"],
            },
        )


def curation_detector(contamination: PoolContamination, evaluator: Evaluator) -> Detector:
    """The detector for `loop.curation=detector`: D_0 (real) against as many earlier-generator images."""
    real_features = evaluator.train_features
    assert real_features is not None, "D_0 is set (Evaluator.set_train_images) before curation"
    synthetic, _ = earlier_generator(contamination, evaluator, len(real_features), "audit")
    return train_detector(real_features, evaluator.extractor.extract(synthetic)[0])
