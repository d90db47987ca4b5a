"""Fréchet distance between Gaussian fits of two feature sets (FID, Heusel et al. 2017).

We call torchmetrics' own closed form (`torchmetrics.image.fid._compute_fid`)
on float64 moments that we compute ourselves, instead of feeding features
through `FrechetInceptionDistance(feature=<identity module>)`:

* the real reference's mean and covariance are computed once and cached in
  `RealReference`; the torchmetrics class only accepts raw features and keeps
  its own running sums, so it would recompute them for every generation;
* the class forms the covariance from uncentred sums (sum x x^T - n mu mu^T),
  which cancels catastrophically when |mu| is large relative to the spread;
  we centre first.

`tests/test_metrics_fid_kid.py` checks that both routes give the same value.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from bench.errors import BenchError
from bench.metrics._common import as_features, few_threads_call, same_dim

_tm_compute_fid: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor] | None
try:  # the closed form torchmetrics uses; private, so keep a copy in case it moves
    from torchmetrics.image.fid import _compute_fid as _tm_compute_fid
except ImportError:  # pragma: no cover - depends on the installed torchmetrics
    _tm_compute_fid = None


def _compute_fid_fallback(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    a = (mu1 - mu2).square().sum(dim=-1)
    b = sigma1.trace() + sigma2.trace()
    c = torch.linalg.eigvals(sigma1 @ sigma2).sqrt().real.sum(dim=-1)
    return a + b - 2 * c


def gaussian_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """float64 mean (D,) and unbiased covariance (D, D) of the rows of `x` (centred before the product)."""
    x = as_features(x, "input", min_rows=2).double()
    mu = x.mean(dim=0)
    xc = x - mu
    cov = xc.T @ xc / (x.shape[0] - 1)
    return mu, cov


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) in float64, clamped at 0 (round-off can go slightly below)."""
    args = [t.double() for t in (mu1, sigma1, mu2, sigma2)]
    if args[0].shape != args[2].shape or args[1].shape != args[3].shape:
        raise BenchError(
            f"metrics: FID moments have different shapes {tuple(args[1].shape)} and {tuple(args[3].shape)}"
        )
    fn = _tm_compute_fid if _tm_compute_fid is not None else _compute_fid_fallback
    value = float(fn(*args))
    return max(value, 0.0)


def psd_sqrt(sigma: Tensor) -> Tensor:
    """Symmetric square root of a symmetric positive semi-definite float64 matrix (negative round-off clipped)."""
    lam, v = torch.linalg.eigh(sigma.double())
    return (v * lam.clamp_min(0.0).sqrt()) @ v.T


@few_threads_call
def fid(real: Tensor, gen: Tensor) -> float:
    """FID between feature sets `real` (N, D) and `gen` (M, D); needs N, M >= 2. Units: squared feature units."""
    real = as_features(real, "real", min_rows=2)
    gen = as_features(gen, "generated", min_rows=2)
    same_dim(real, gen, "real", "generated")
    mu_r, cov_r = gaussian_moments(real)
    mu_g, cov_g = gaussian_moments(gen)
    return frechet_distance(mu_r, cov_r, mu_g, cov_g)
