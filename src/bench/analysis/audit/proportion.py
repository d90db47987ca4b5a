"""The synthetic share of a pool from a detector's flags, corrected for the detector's own error rates.

A pool with synthetic share π is flagged at rate q = π β + (1 − π) α, where α is the detector's false-positive
rate (real images called synthetic) and β its true-positive rate, both measured on calibration images it did
not train on. Solving for π gives the Rogan–Gladen estimator (Rogan & Gladen 1978, the prevalence estimate of
an imperfect test):

    π̂ = (q̂ − α̂) / (β̂ − α̂), clipped to [0, 1].

The raw flag rate q̂ is biased whenever α > 0 or β < 1; π̂ is not (to first order). Its interval propagates the
sampling error of all three rates: each rate gets the Jeffreys posterior Beta(k + ½, n − k + ½) of its count k of n,
π is recomputed from 20,000 seeded joint draws, and the interval is their 2.5% and 97.5% quantiles (clipped to
[0, 1]). Unlike the delta method, this stays honest when a calibration count is 0 or n (a detector with no
false positives on 2,000 real images still has α up to about 0.1%).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from bench.errors import BenchError


@dataclass(frozen=True)
class ProportionEstimate:
    estimate: float  # π̂, clipped to [0, 1]
    low: float  # 95% interval
    high: float
    flag_rate: float  # q̂: the uncorrected share of the pool the detector flags
    false_positive_rate: float  # α̂ on the real calibration images
    true_positive_rate: float  # β̂ on the synthetic calibration images
    n_pool: int
    n_real_calibration: int
    n_synthetic_calibration: int

    def as_dict(self) -> dict:
        return asdict(self)


def rogan_gladen(q: float, alpha: float, beta: float) -> float:
    """π̂ = (q − α)/(β − α), clipped to [0, 1]; needs a detector better than chance (β > α)."""
    if not beta > alpha:
        raise BenchError(
            f"the detector is no better than chance on its calibration images (true-positive rate {beta:.3f}, "
            f"false-positive rate {alpha:.3f}); the synthetic share cannot be estimated from it"
        )
    return min(1.0, max(0.0, (q - alpha) / (beta - alpha)))


def estimate_proportion(
    pool_flags: torch.Tensor,
    real_flags: torch.Tensor,
    synthetic_flags: torch.Tensor,
    *,
    confidence: float = 0.95,
    draws: int = 20_000,
    seed: int = 0,
) -> ProportionEstimate:
    """π̂ and its interval from boolean flags of the pool and of real and synthetic calibration images."""
    counts = [(int(f.sum()), int(f.numel())) for f in (pool_flags, real_flags, synthetic_flags)]
    for (_, n), what in zip(counts, ("pool", "real calibration", "synthetic calibration"), strict=True):
        if n == 0:
            raise BenchError(f"the {what} set is empty; the synthetic share needs images in it")
    (kq, nq), (ka, na), (kb, nb) = counts
    q, alpha, beta = kq / nq, ka / na, kb / nb
    estimate = rogan_gladen(q, alpha, beta)

    rng = np.random.default_rng(seed)

    def jeffreys(k: int, n: int) -> np.ndarray:
        return rng.beta(k + 0.5, n - k + 0.5, size=draws)

    qs, alphas, betas = jeffreys(kq, nq), jeffreys(ka, na), jeffreys(kb, nb)
    valid = betas > alphas
    pis = np.clip((qs - alphas)[valid] / (betas - alphas)[valid], 0.0, 1.0)
    tail = (1.0 - confidence) / 2
    low, high = (float(v) for v in np.quantile(pis, [tail, 1.0 - tail]))
    return ProportionEstimate(
        estimate=estimate,
        low=min(low, estimate),
        high=max(high, estimate),
        flag_rate=q,
        false_positive_rate=alpha,
        true_positive_rate=beta,
        n_pool=nq,
        n_real_calibration=na,
        n_synthetic_calibration=nb,
    )
