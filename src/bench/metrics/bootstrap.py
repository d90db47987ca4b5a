"""Bootstrap percentile intervals for any scalar metric of (real, gen).

`bootstrap(fn, real, gen)` redraws the rows of `gen` (default), of `real`,
or of both, with replacement, `n` times from a seeded generator, evaluates
fn on each resample and returns the 2.5% / 97.5% percentiles (`alpha`=0.05)
and the standard deviation of the replicates.

Caveat: resampling with replacement duplicates rows. Per-sample averages
(precision, density, memorized_share) are fine; set-level statistics are
shifted by the duplicates, so their interval may not contain the point
estimate: FID rises (fewer distinct points), recall / coverage / Vendi fall,
and k-NN radii of the resampled set shrink (a duplicate is a neighbour at
distance 0). Read such intervals as spread, not as unbiased bounds.

This generic function calls fn on every resample. `score(..., bootstrap=n)`
draws the same kind of resamples of the generated rows but does not rescore
them: its replicates reuse the point estimate's distances and moments
(bench.metrics._resample), with the semantics above (duplicates are
neighbours at distance 0) and the same numbers as rescoring.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from bench.errors import BenchError

RESAMPLE = ("gen", "real", "both")


def percentile_interval(values: Tensor, alpha: float = 0.05) -> dict[str, float]:
    """low / high percentiles (linear interpolation), std (unbiased) and mean of bootstrap replicates."""
    v = values.double()
    lo, hi = torch.quantile(v, torch.tensor([alpha / 2, 1 - alpha / 2], dtype=torch.float64))
    return {
        "low": float(lo),
        "high": float(hi),
        "std": float(v.std()) if v.numel() > 1 else 0.0,
        "mean": float(v.mean()),
    }


def bootstrap(
    fn: Callable[[Tensor, Tensor], float],
    real: Tensor,
    gen: Tensor,
    *,
    n: int = 200,
    seed: int = 0,
    resample: str = "gen",
    alpha: float = 0.05,
) -> dict[str, float]:
    """dict(low, high, std, mean) of fn(real*, gen*) over `n` bootstrap resamples (95% percentile interval)."""
    if not isinstance(n, int) or n < 2:
        raise BenchError(f"metrics: bootstrap needs n >= 2 resamples, got {n!r}")
    if resample not in RESAMPLE:
        raise BenchError(f"metrics: bootstrap resample must be one of {', '.join(RESAMPLE)}; got {resample!r}")
    if not 0.0 < alpha < 1.0:
        raise BenchError(f"metrics: bootstrap alpha must be in (0, 1), got {alpha}")
    g = torch.Generator().manual_seed(int(seed))
    values = torch.empty(n, dtype=torch.float64)
    for b in range(n):
        r = (
            real[torch.randint(0, real.shape[0], (real.shape[0],), generator=g)]
            if resample in ("real", "both")
            else real
        )
        q = gen[torch.randint(0, gen.shape[0], (gen.shape[0],), generator=g)] if resample in ("gen", "both") else gen
        values[b] = float(fn(r, q))
    return percentile_interval(values, alpha)
