"""How much of an image pool is synthetic? A detector and a mixture-proportion estimate (`python -m bench.audit`).

1. Known real images: the data set's clean train pool; known synthetic images: the fixed earlier generator of
   `bench.engine.contamination` (or a file of the user's, `--synthetic`). Each is split, seeded, into a training half
   and a calibration half.
2. A detector (`detector.py`) learns real versus synthetic in the data set's reference feature space.
3. On the calibration halves it has a false-positive rate α and a true-positive rate β; the pool's flag rate q
   is corrected for them (`proportion.py`): π̂ = (q − α)/(β − α), with a 95% interval.

The estimate is only as good as the detector's transfer: it assumes the pool's synthetic images look to the
detector like its known synthetic ones (the same generator, or one it separates as well).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch

from bench.analysis.audit.proportion import ProportionEstimate, estimate_proportion
from bench.data.images import arrays_checksum
from bench.engine.contamination import PoolContamination, earlier_generator
from bench.engine.detector import Detector, train_detector
from bench.engine.evaluation import Evaluator
from bench.errors import BenchError, check_positive
from bench.seeding import generator

__all__ = ["Detector", "ProportionEstimate", "audit_pool", "estimate_proportion", "train_detector"]


def audit_pool(
    contamination: PoolContamination,
    evaluator: Evaluator,
    pool: torch.Tensor,
    *,
    synthetic: torch.Tensor | None = None,
    n_train: int = 2000,
    n_calibration: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The synthetic share of `pool` (uint8 images of the data set's shape) with its interval, as a dict; features
    in the evaluator's scoring space. `contamination`: the earlier generator that gives the known synthetic images
    unless `synthetic` is given."""
    data, extractor = evaluator.dataset, evaluator.extractor
    n_train = check_positive("--n-train", n_train)
    n_calibration = check_positive("--n-calibration", n_calibration)
    if tuple(pool.shape[1:]) != tuple(data.image_shape):
        raise BenchError(
            f"--pool images have shape {tuple(pool.shape[1:])}; {data.name} images are {tuple(data.image_shape)}"
        )
    need = n_train + n_calibration
    if need > len(data.train_images):
        raise BenchError(f"--n-train + --n-calibration = {need} exceeds the {len(data.train_images)} real images")
    # the detector must not learn or calibrate on images of the pool itself (auditing a subset of the train pool
    # would otherwise see its own training images flagged as real): exact copies are left out of the known sets
    in_pool = set(_image_keys(pool))
    real = _outside(data.train_images, in_pool, need, "real images of the data set", seed, "real")
    if synthetic is None:
        synthetic, source = earlier_generator(contamination, evaluator, need, "audit")
    else:
        source = {"source": "--synthetic"}
    synthetic = _outside(synthetic, in_pool, need, "--synthetic images", seed, "synthetic")
    source["sha256"] = arrays_checksum(synthetic)
    real_f, synth_f, pool_f = (extractor.extract(x)[0] for x in (real, synthetic, pool))
    detector = train_detector(real_f[:n_train], synth_f[:n_train])
    estimate = estimate_proportion(
        detector.predict(pool_f),
        detector.predict(real_f[n_train:]),
        detector.predict(synth_f[n_train:]),
        seed=seed,
    )
    warning = _range_warning(estimate)
    return {
        "warning": warning,
        "pool": {"n": len(pool), "sha256": arrays_checksum(pool)},
        "dataset": {"name": data.name, "checksum": data.checksum},
        "feature_extractor": extractor.info,
        "known_synthetic": source,
        "detector": {
            "classifier": "quadratic logistic regression (bench.engine.detector)",
            "n_train_per_class": n_train,
            "n_calibration_per_class": n_calibration,
            "calibration_accuracy": (1 - estimate.false_positive_rate + estimate.true_positive_rate) / 2,
        },
        "seed": seed,
        "synthetic_share": estimate.as_dict(),
    }


def _image_keys(images: torch.Tensor) -> list[bytes]:
    """A short hash of each image's bytes: exact copies share it."""
    return [hashlib.blake2b(x.numpy().tobytes(), digest_size=16).digest() for x in images]


def _outside(images: torch.Tensor, exclude: set[bytes], n: int, what: str, seed: int, purpose: str) -> torch.Tensor:
    """n images, in a seeded order, none of which is an exact copy of an excluded one."""
    order = torch.randperm(len(images), generator=generator(seed, "audit", purpose)).tolist()
    keys = _image_keys(images)
    kept = [i for i in order if keys[i] not in exclude]
    if len(kept) < n:
        raise BenchError(
            f"{what}: {len(kept)} are not in the pool, --n-train + --n-calibration = {n} are needed; lower them"
        )
    return images[torch.tensor(kept[:n])]


def _range_warning(e: ProportionEstimate) -> str | None:
    """A pool flagged outside [α, β] (beyond 3 standard errors) is not a mixture of what the detector knows."""
    se = math.sqrt(
        e.flag_rate * (1 - e.flag_rate) / e.n_pool
        + max(e.false_positive_rate * (1 - e.false_positive_rate), 0.25 / e.n_real_calibration) / e.n_real_calibration
        + max(e.true_positive_rate * (1 - e.true_positive_rate), 0.25 / e.n_synthetic_calibration)
        / e.n_synthetic_calibration
    )
    if e.false_positive_rate - 3 * se <= e.flag_rate <= e.true_positive_rate + 3 * se:
        return None
    return (
        f"the pool's flag rate {e.flag_rate:.3f} lies outside the detector's calibration range "
        f"[{e.false_positive_rate:.3f}, {e.true_positive_rate:.3f}]: the pool is not a mixture of images like the "
        "detector's real and synthetic ones, and the estimate is clipped, not measured"
    )
