"""A loop kind decides what generation t >= 1 trains on; generation 0 always trains on the real set D_0.

One file per kind, each a subclass of `Loop` named by `_target_` in conf/loop/<name>.yaml.
Sizes: n = |D_0| (data.n_train), m = loop.synthetic_size (the synthetic sample S_t drawn from M_t).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from bench.errors import BenchError, check_fraction, check_positive
from bench.seeding import generator as seeded_generator

# loop.curation choices (bench/engine/curation.py scores them); None: the model's samples go into D_t as drawn
CURATIONS = ("confidence", "nearest_real", "detector", "entropy", "verifier")


@dataclass(frozen=True)
class TrainingSet:
    images: torch.Tensor  # uint8 (N, C, H, W)
    n_real: int
    n_synthetic: int
    sources: str  # human-readable provenance, e.g. "D_0[2000] + S_1[2000]"
    # which rows are real; None: the first n_real (as `join` puts them)
    is_real: torch.Tensor | None = None

    def __post_init__(self):
        assert self.images.shape[0] == self.n_real + self.n_synthetic, "counts must add up to the images trained on"
        assert self.is_real is None or int(self.is_real.sum()) == self.n_real, "the real rows must be n_real"

    def real_mask(self) -> torch.Tensor:
        if self.is_real is not None:
            return self.is_real.bool()
        mask = torch.zeros(len(self.images), dtype=torch.bool)
        mask[: self.n_real] = True
        return mask


@dataclass(frozen=True)
class LoopContext:
    """What a loop may draw from at generation t. Synthetic sets are loaded on demand from the run folder."""

    seed: int
    initial: torch.Tensor  # D_0, uint8
    real_pool: torch.Tensor  # every real training image (D_0 included), uint8
    initial_index: torch.Tensor  # positions of D_0 in real_pool
    synthetic: Callable[[int], torch.Tensor]  # s -> S_s (uint8, m images)

    def generator(self, t: int, purpose: str) -> torch.Generator:
        return seeded_generator(self.seed, "loop", purpose, t)

    def real_draw(self, t: int, size: int) -> torch.Tensor:
        """A seeded random draw of `size` real images from the whole pool (may overlap D_0)."""
        if size > len(self.real_pool):
            raise BenchError(f"a real draw of {size} images exceeds the real pool of {len(self.real_pool)}")
        idx = torch.randperm(len(self.real_pool), generator=self.generator(t, "real_draw"))[:size]
        return self.real_pool[idx]

    def fresh_real(self, t: int, size: int) -> torch.Tensor:
        """Real images never trained on before: block t-1 of a fixed permutation of the pool outside D_0."""
        outside = torch.ones(len(self.real_pool), dtype=torch.bool)
        outside[self.initial_index] = False
        candidates = outside.nonzero().squeeze(1)
        order = candidates[
            torch.randperm(len(candidates), generator=seeded_generator(self.seed, "loop", "fresh_order"))
        ]
        start, stop = (t - 1) * size, t * size
        if stop > len(order):
            raise BenchError(
                f"fresh real data runs out at generation {t}: {stop} unseen images needed, "
                f"{len(order)} in the pool outside D_0; "
                "lower loop.real_size or loop.generations"
            )
        return self.real_pool[order[start:stop]]

    def subsample(self, images: torch.Tensor, size: int, t: int, purpose: str) -> torch.Tensor:
        if size > len(images):
            raise BenchError(f"cannot take {size} images from a set of {len(images)}")
        return images[torch.randperm(len(images), generator=self.generator(t, purpose))[:size]]


class Loop:
    name = "base"
    # whether D_t (t >= 1) holds real and synthetic images together, which `real_weight` needs
    mixes_real_and_synthetic = True

    def __init__(
        self,
        *,
        generations: int,
        synthetic_size: int,
        warm_start: bool = False,
        curation: str | None = None,
        curation_keep: float = 0.5,
        real_weight: float | None = None,
        verifier_n_labelled: int = 1000,
    ):
        self.generations = check_positive("loop.generations", generations)
        self.synthetic_size = check_positive("loop.synthetic_size", synthetic_size)
        self.warm_start = bool(warm_start)
        if curation is not None and curation not in CURATIONS:
            raise BenchError(f"loop.curation={curation!r} is not known; allowed: null, {', '.join(CURATIONS)}")
        self.curation = curation
        keep = curation_keep
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < keep <= 1.0:
            raise BenchError(f"loop.curation_keep={keep} is outside the allowed range (0, 1]")
        self.curation_keep = float(keep)
        self.verifier_n_labelled = check_positive("loop.verifier_n_labelled", verifier_n_labelled)
        if self.curation == "entropy" and self.synthetic_size < 2:
            raise BenchError(
                f"loop.curation=entropy with loop.synthetic_size={self.synthetic_size}: the k-NN entropy it keeps "
                "high needs at least 2 kept images"
            )
        if self.curation == "entropy" and self.n_candidates <= self.synthetic_size:
            raise BenchError(
                f"loop.curation=entropy with loop.curation_keep={keep} draws no more candidates than it keeps "
                f"({self.synthetic_size}): nothing to select from; set loop.curation_keep below 1"
            )
        self.real_weight = None if real_weight is None else check_fraction("loop.real_weight", real_weight)
        if self.real_weight is not None and not self.mixes_real_and_synthetic:
            raise BenchError(
                f"loop.real_weight={real_weight} needs a loop whose D_t mixes real and synthetic images; "
                f"loop={self.name} does not (allowed with: accumulate, augment, fresh, replay)"
            )

    def real_loss_share(self, train_set: TrainingSet) -> float | None:
        """The share of the loss D_t's real images carry when `real_weight` applies to it (it mixes both kinds), else
        None (their count's share)."""
        mixed = train_set.n_real > 0 and train_set.n_synthetic > 0
        return self.real_weight if mixed else None

    def example_weights(self, train_set: TrainingSet) -> torch.Tensor | None:
        """Per-image sampling weights that give D_t's real images the share `real_weight` of the training loss
        whatever their count (He et al. 2025), or None (uniform: no real_weight, or D_t is all real or all synthetic,
        as at generation 0). A real image weighs real_weight / n_real, a synthetic one (1 - real_weight) / n_synth."""
        if self.real_loss_share(train_set) is None:
            return None
        assert self.real_weight is not None, "real_loss_share is set"
        real = train_set.real_mask()
        w = torch.where(
            real,
            torch.tensor(self.real_weight / train_set.n_real, dtype=torch.float64),
            torch.tensor((1.0 - self.real_weight) / train_set.n_synthetic, dtype=torch.float64),
        )
        return w

    @property
    def n_candidates(self) -> int:
        """Samples drawn from each model: synthetic_size, or synthetic_size / curation_keep to curate from."""
        if self.curation is None:
            return self.synthetic_size
        return math.ceil(self.synthetic_size / self.curation_keep - 1e-9)

    def training_set(self, t: int, ctx: LoopContext) -> TrainingSet:
        if t == 0:
            return TrainingSet(ctx.initial, len(ctx.initial), 0, f"D_0[{len(ctx.initial)}]")
        return self.compose(t, ctx)

    def compose(self, t: int, ctx: LoopContext) -> TrainingSet:
        raise NotImplementedError

    def check_sizes(self, *, n_initial: int, n_pool: int) -> None:
        """Fail before any training if the sizes cannot work for all generations (override where needed)."""

    def check_curation(self, *, n_labelled_available: int, num_classes: int) -> None:
        """Fail before any training if the curation cannot work on this data set (`prepare` calls it)."""
        if self.curation != "verifier":
            return
        if not num_classes:
            raise BenchError(
                "loop.curation=verifier needs a labelled data set to train its verifier; this one has no classes "
                "(use nearest_real, detector or entropy)"
            )
        if self.verifier_n_labelled > n_labelled_available:
            raise BenchError(
                f"loop.verifier_n_labelled={self.verifier_n_labelled} exceeds the {n_labelled_available} labelled "
                "real training images; allowed: 1 to that many"
            )


def join(real: torch.Tensor | None, synthetic: list[torch.Tensor], sources: str) -> TrainingSet:
    parts = ([real] if real is not None else []) + synthetic
    n_real = 0 if real is None else len(real)
    return TrainingSet(torch.cat(parts), n_real, sum(len(s) for s in synthetic), sources)
