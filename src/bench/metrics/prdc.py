"""Precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020).

Notation: real X = {x_1..x_N}, generated Y = {y_1..y_M}; r_k(x) = distance
from x to its k-th nearest OTHER point of its own set; B(x, r) the ball
{z : d(x, z) <= r} (strict=False, Kynkäänniemi's definition) or
{z : d(x, z) < r} (strict=True, as in Naeem's public `prdc` code).

  precision = 1/M sum_j 1[exists i: y_j in B(x_i, r_kpr(x_i))]
  recall    = 1/N sum_i 1[exists j: x_i in B(y_j, r_kpr(y_j))]
  density   = 1/(k_dc M) sum_j sum_i 1[y_j in B(x_i, r_kdc(x_i))]
  coverage  = 1/N sum_i 1[exists j: y_j in B(x_i, r_kdc(x_i))]

One pass over the (M, N) generated-to-real distances in chunks of generated
rows gives all four; memory is O(chunk_size * max(N, M)), never O(N M).
Per-column results (recall, coverage) are accumulated with OR / min across
chunks, so they do not depend on the chunking.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.errors import BenchError
from bench.metrics._common import (
    DEFAULT_CHUNK_SIZE,
    as_features,
    check_chunk_size,
    common_dtype,
    knn_radii,
    pairwise_distances,
    row_chunks,
    same_dim,
)


def _check_radii(radii: Tensor | None, n: int, name: str) -> Tensor | None:
    if radii is None:
        return None
    if radii.dim() != 1 or radii.shape[0] != n:
        raise BenchError(f"metrics: {name} must have shape ({n},), got {tuple(radii.shape)}")
    return radii


def _pass(
    real: Tensor,
    gen: Tensor,
    *,
    real_radii_pr: Tensor | None,
    gen_radii_pr: Tensor | None,
    real_radii_dc: Tensor | None,
    k_dc: int | None,
    strict: bool,
    chunk_size: int,
) -> dict[str, float]:
    inside = torch.lt if strict else torch.le
    n, m = real.shape[0], gen.shape[0]
    out: dict[str, float] = {}
    precision_hits = 0
    density_hits = 0
    recall_hit = torch.zeros(n, dtype=torch.bool)
    nearest_gen = torch.full((n,), float("inf"), dtype=real.dtype)
    for s, e in row_chunks(m, chunk_size):
        d = pairwise_distances(gen[s:e], real)  # (chunk, N)
        if real_radii_pr is not None:
            assert gen_radii_pr is not None, "precision/recall need both radii"
            precision_hits += int(inside(d, real_radii_pr[None, :]).any(dim=1).sum())
            recall_hit |= inside(d, gen_radii_pr[s:e, None]).any(dim=0)
        if real_radii_dc is not None:
            # count_nonzero: bool.sum() would first widen the whole (chunk, N) mask to int64
            density_hits += int(torch.count_nonzero(inside(d, real_radii_dc[None, :])))
            nearest_gen = torch.minimum(nearest_gen, d.min(dim=0).values)
        del d  # free this chunk before the next cdist allocates one
    if real_radii_pr is not None:
        out["precision"] = precision_hits / m
        out["recall"] = float(recall_hit.sum()) / n
    if real_radii_dc is not None:
        assert k_dc is not None, "density needs k_dc"
        out["density"] = density_hits / (k_dc * m)
        out["coverage"] = float(inside(nearest_gen, real_radii_dc).sum()) / n
    return out


def _prepare(real, gen):
    real = as_features(real, "real", min_rows=2)
    gen = as_features(gen, "generated", min_rows=1)
    same_dim(real, gen, "real", "generated")
    return common_dtype(real, gen)


def _prdc(
    real: Tensor,
    gen: Tensor,
    *,
    k_pr: int | None,
    k_dc: int | None,
    strict: bool,
    chunk_size: int,
    real_radii_pr: Tensor | None,
    real_radii_dc: Tensor | None,
) -> dict[str, float]:
    """The shared body: validate, find the radii not given (one k-NN pass for both k), then one chunked pass.

    k_pr=None skips precision/recall, k_dc=None skips density/coverage.
    """
    real, gen = _prepare(real, gen)
    check_chunk_size(chunk_size)
    n, m = real.shape[0], gen.shape[0]
    if k_pr is not None and m < k_pr + 1:
        raise BenchError(f"metrics: recall with k={k_pr} needs at least {k_pr + 1} generated samples, got {m}")
    wanted = {"real_radii_pr": (k_pr, real_radii_pr), "real_radii_dc": (k_dc, real_radii_dc)}
    missing = [k for k, r in wanted.values() if k is not None and r is None]
    computed = knn_radii(real, missing, chunk_size=chunk_size) if missing else {}
    radii = {}
    for name, (k, given) in wanted.items():
        if k is not None:
            given = _check_radii(given, n, name)
            radii[name] = (computed[k] if given is None else given).to(real.dtype)
    gen_radii = knn_radii(gen, [k_pr], chunk_size=chunk_size)[k_pr] if k_pr is not None else None
    return _pass(
        real,
        gen,
        real_radii_pr=radii.get("real_radii_pr"),
        gen_radii_pr=gen_radii,
        real_radii_dc=radii.get("real_radii_dc"),
        k_dc=k_dc,
        strict=strict,
        chunk_size=chunk_size,
    )


def prdc(
    real: Tensor,
    gen: Tensor,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    strict: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    real_radii_pr: Tensor | None = None,
    real_radii_dc: Tensor | None = None,
) -> dict[str, float]:
    """precision, recall (k = k_pr) and density, coverage (k = k_dc) in one chunked pass.

    `real_radii_pr` / `real_radii_dc`: precomputed k-NN radii of `real` (e.g.
    from `RealReference`), skipping the O(N^2) radius computation.
    """
    return _prdc(
        real,
        gen,
        k_pr=k_pr,
        k_dc=k_dc,
        strict=strict,
        chunk_size=chunk_size,
        real_radii_pr=real_radii_pr,
        real_radii_dc=real_radii_dc,
    )


def precision_recall(
    real: Tensor,
    gen: Tensor,
    *,
    k: int = 3,
    strict: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    real_radii: Tensor | None = None,
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls; see module docstring."""
    return _prdc(
        real, gen, k_pr=k, k_dc=None, strict=strict, chunk_size=chunk_size, real_radii_pr=real_radii, real_radii_dc=None
    )


def density_coverage(
    real: Tensor,
    gen: Tensor,
    *,
    k: int = 5,
    strict: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    real_radii: Tensor | None = None,
) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) with real k-NN balls; see module docstring."""
    return _prdc(
        real, gen, k_pr=None, k_dc=k, strict=strict, chunk_size=chunk_size, real_radii_pr=None, real_radii_dc=real_radii
    )
