"""The Kozachenko–Leonenko k-nearest-neighbour estimate of differential entropy, in nats.

For N distinct points x_i in R^d, with rho_i the Euclidean distance from x_i to its k-th nearest other point,

    H = psi(N) - psi(k) + log V_d + (d / N) * sum_i log rho_i,      V_d = pi^(d/2) / Gamma(d/2 + 1)

(Kozachenko & Leonenko 1987; the k = 1 form is the one Shi et al. 2025 track across the generations of a
collapsing diffusion model). Asymptotically unbiased; at finite N in many dimensions it is biased (downwards for
densities on a lower-dimensional set, as classifier features are), so values are compared at equal N and d: across
the generations of one run, or between runs of one protocol, never as absolute entropies.

Exact duplicate rows are counted once: a copy has rho = 0 and would send the estimate to -inf. So the estimate
describes the set of *distinct* rows, and a set that collapsed into copies of a few rows scores like those few rows
drawn once: read it with `n_distinct` (how many rows were used; the metrics record it beside each entropy). With
fewer than k + 1 distinct rows there is no estimate: "entropy" is None (a fully collapsed generation is scored,
not stopped).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bench.errors import BenchError
from bench.metrics._common import DEFAULT_CHUNK_SIZE, as_features, few_threads_call, knn_radii


def log_unit_ball_volume(d: int) -> float:
    """log of the volume of the Euclidean unit ball in d dimensions, pi^(d/2) / Gamma(d/2 + 1)."""
    return d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1)


def entropy_from_radii(radii: Tensor, d: int, *, k: int = 1) -> float:
    """The estimate from the k-th-neighbour distances of N distinct points (all > 0) in d dimensions."""
    n = radii.shape[0]
    if n < k + 1:
        raise BenchError(f"metrics: the k-NN entropy with k={k} needs at least {k + 1} distinct points, got {n}")
    if not bool((radii > 0).all()):
        raise BenchError("metrics: the k-NN entropy needs distinct points (a zero neighbour distance was given)")
    psi = torch.special.digamma(torch.tensor([float(n), float(k)], dtype=torch.float64))
    return float(psi[0] - psi[1]) + log_unit_ball_volume(d) + d * float(radii.double().log().mean())


@few_threads_call
def knn_entropy(x: Tensor, *, k: int = 1, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, float | int | None]:
    """{"entropy": the Kozachenko–Leonenko estimate of x's distinct rows (nats; None with fewer than k + 1 of them),
    "n_distinct": rows used}."""
    x = as_features(x, "entropy", min_rows=2)
    distinct = torch.unique(x, dim=0)
    return _estimate(distinct, k=k, chunk_size=chunk_size)


def _estimate(distinct: Tensor, *, k: int, chunk_size: int) -> dict[str, float | int | None]:
    n = int(distinct.shape[0])
    if n < k + 1:
        return {"entropy": None, "n_distinct": n}
    radii = knn_radii(distinct, [k], chunk_size=chunk_size)[k]
    return {"entropy": entropy_from_radii(radii, distinct.shape[1], k=k), "n_distinct": n}


def entropy_of_distinct_rows(nn: Tensor, d: int) -> dict[str, float | int | None]:
    """k = 1 entropy from the nearest-other-row distances `nn` of a set's distinct rows, as memorisation returns them
    (`memorization.memorized_rows` counts duplicates once): no second neighbour search. One row: no estimate."""
    n = int(nn.shape[0])
    return {"entropy": entropy_from_radii(nn, d, k=1) if n >= 2 else None, "n_distinct": n}
