"""Shared helpers: input checks and chunked pairwise distances.

Every distance in this package comes from `pairwise_distances`, which calls
``torch.cdist(..., compute_mode="donot_use_mm_for_euclid_dist")``. That mode
computes each entry as sqrt(sum_d (x_d - y_d)^2) on its own, so an entry does
not depend on which other rows share its chunk: chunked and unchunked runs
give bit-identical distances (and so identical k-NN radii and memberships).
The faster matmul mode (|x|^2 + |y|^2 - 2 x.y) goes through BLAS, whose
summation order may change with the matrix shape, and it loses precision for
near-identical points (a copy of a point is not at distance exactly 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.errors import BenchError

DEFAULT_CHUNK_SIZE = 4096
_CDIST_MODE = "donot_use_mm_for_euclid_dist"


def as_features(x: Tensor, name: str, *, min_rows: int = 1) -> Tensor:
    """Check that `x` is a finite (N, D) float tensor on the CPU; return it as contiguous float32 or float64."""
    if not isinstance(x, Tensor):
        raise BenchError(f"metrics: {name} features must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise BenchError(f"metrics: {name} features must have shape (N, D), got {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise BenchError(f"metrics: {name} features need at least {min_rows} rows, got {x.shape[0]}")
    if not x.is_floating_point() or x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    x = x.detach().cpu().contiguous()
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(dim=1).sum())
        raise BenchError(f"metrics: {name} features contain NaN or inf in {bad} of {x.shape[0]} rows")
    return x


def same_dim(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise BenchError(
            f"metrics: {name_a} features have {a.shape[1]} dimensions but {name_b} features have {b.shape[1]}"
        )


def common_dtype(*xs: Tensor) -> tuple[Tensor, ...]:
    """Cast all tensors to float64 if any is float64, else leave them float32."""
    dt = torch.float64 if any(x.dtype == torch.float64 for x in xs) else torch.float32
    return tuple(x.to(dt) for x in xs)


def check_chunk_size(chunk_size: int) -> int:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise BenchError(f"metrics: chunk_size must be a positive integer, got {chunk_size!r}")
    return chunk_size


def pairwise_distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances (len(a), len(b)), each entry computed independently (see module docstring)."""
    return torch.cdist(a, b, compute_mode=_CDIST_MODE)


def row_chunks(n: int, chunk_size: int):
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


def knn_radii(x: Tensor, ks: tuple[int, ...] | list[int], *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[int, Tensor]:
    """Distance from each row of `x` to its k-th nearest OTHER row, for each k in `ks`.

    "Other" is by index: a row's own zero self-distance is excluded, exact
    duplicates of a row are not (they give radius 0). Memory O(chunk_size * N).
    """
    check_chunk_size(chunk_size)
    n = x.shape[0]
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise BenchError(f"metrics: k for k-NN radii must be >= 1, got {ks}")
    kmax = ks[-1]
    if kmax > n - 1:
        raise BenchError(f"metrics: k={kmax} nearest neighbours need at least {kmax + 1} points, got {n}")
    out = {k: torch.empty(n, dtype=x.dtype) for k in ks}
    for s, e in row_chunks(n, chunk_size):
        d = pairwise_distances(x[s:e], x)
        rows = torch.arange(e - s)
        d[rows, rows + s] = float("inf")
        nearest = torch.topk(d, kmax, dim=1, largest=False, sorted=True).values
        for k in ks:
            out[k][s:e] = nearest[:, k - 1]
        del d  # free this chunk before the next cdist allocates one (else two are alive at once)
    return out
