"""Class-histogram statistics of generated samples against real ones (mode collapse / mode dropping).

With p_gen and p_real the class shares (counts / total) of the generated and
the real labels:

* classes_covered: number of classes c with p_real[c] > 0, p_gen[c] > 0 and
  p_gen[c] >= min_relative_share * p_real[c]. With 10 balanced real classes
  and the default 0.1, a class counts once it holds >= 1% of the samples
  (compared with a 1e-12 relative slack so that exactly 1% counts).
* kl_gen_real: KL(p_gen || p_real) = sum_c p_gen[c] ln(p_gen[c] / p_real[c]) in
  nats, 0 ln 0 = 0; +inf if a class has generated samples but no real ones.
* tv: total variation 0.5 sum_c |p_gen[c] - p_real[c]|, in [0, 1].
* min_class_share: min_c p_gen[c] over all num_classes classes (0 if one is missing).
* class_shares: [p_gen[0], ..., p_gen[num_classes - 1]].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bench.errors import BenchError


def class_counts(labels: Tensor, num_classes: int, name: str = "labels") -> Tensor:
    """int64 histogram of integer labels in [0, num_classes)."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise BenchError(f"metrics: num_classes must be a positive integer, got {num_classes!r}")
    if not isinstance(labels, Tensor):
        labels = torch.as_tensor(labels)
    labels = labels.detach().cpu().reshape(-1)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise BenchError(f"metrics: {name} must be integer class indices, got dtype {labels.dtype}")
    if labels.numel() == 0:
        raise BenchError(f"metrics: {name} is empty")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise BenchError(f"metrics: {name} must lie in [0, {num_classes - 1}], got values from {lo} to {hi}")
    return torch.bincount(labels.long(), minlength=num_classes)


def mode_stats_from_counts(gen_counts: Tensor, real_counts: Tensor, *, min_relative_share: float = 0.1) -> dict:
    p_gen = gen_counts.double() / gen_counts.sum()
    p_real = real_counts.double() / real_counts.sum()
    # the 1e-12 slack keeps a share exactly on the threshold (10/1000 vs 0.1 * 0.1) covered despite rounding
    threshold = min_relative_share * p_real * (1 - 1e-12)
    covered = int(((p_real > 0) & (p_gen > 0) & (p_gen >= threshold)).sum())
    support = p_gen > 0
    if bool((support & (p_real == 0)).any()):
        kl = math.inf
    else:
        kl = float((p_gen[support] * (p_gen[support] / p_real[support]).log()).sum())
    return {
        "classes_covered": covered,
        "kl_gen_real": kl,
        "tv": float(0.5 * (p_gen - p_real).abs().sum()),
        "min_class_share": float(p_gen.min()),
        "class_shares": p_gen.tolist(),
    }


def mode_stats(gen_labels: Tensor, real_labels: Tensor, num_classes: int, *, min_relative_share: float = 0.1) -> dict:
    """classes_covered, kl_gen_real, tv, min_class_share, class_shares; see module docstring."""
    if not (float(min_relative_share) >= 0.0):
        raise BenchError(f"metrics: min_relative_share must be >= 0, got {min_relative_share}")
    return mode_stats_from_counts(
        class_counts(gen_labels, num_classes, "generated labels"),
        class_counts(real_labels, num_classes, "real labels"),
        min_relative_share=min_relative_share,
    )
