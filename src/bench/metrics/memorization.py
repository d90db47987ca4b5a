"""Authenticity / memorisation in the sense of Alaa et al. 2022 ("How Faithful is your Synthetic Data?").

For each generated g let t(g) be its nearest training point and
r(t) = distance from t to its nearest OTHER training point. g is memorised
(inauthentic) iff d(g, t(g)) < r(t(g)) (strict): it lies closer to a training
point than any other training point does. memorized_share is the share of
memorised generated samples, authenticity = 1 - memorized_share.

Exact copies of training points are memorised. A training set that holds
exact duplicates (a synthetic D_t of a collapsing loop can) counts each
distinct point once: r(t) is then the distance to the nearest *distinct*
other point, since with the copies r would be 0 and nothing, not even an exact
copy, could be memorised. With a single distinct training point only its
exact copies are memorised.

Also reported, as distance distributions (mean, median, p05, p95):
nn_gen_train_* = d(g, t(g)) over generated g, and nn_train_train_* = r(t)
over training t, the scale to compare them with.

Distances are the exact ones of `bench.metrics._common` (float64; the
nearest training row is the lower index among exact ties). Chunked over rows
(O(chunk_size * N_train) memory); `train_nn` (from
`train_nn_distances`) skips the O(N_train^2) part when one training set is
scored against many generated sets.
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
    few_threads_call,
    knn,
    knn_radii,
    same_dim,
)


def distance_summary(prefix: str, d: Tensor) -> dict[str, float]:
    q = torch.quantile(d.double(), torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64))
    return {
        f"{prefix}_mean": float(d.double().mean()),
        f"{prefix}_median": float(q[1]),
        f"{prefix}_p05": float(q[0]),
        f"{prefix}_p95": float(q[2]),
    }


def train_nn_distances(train: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Tensor:
    """Distance from each training row to its nearest other training row."""
    train = as_features(train, "training", min_rows=2)
    return knn_radii(train, [1], chunk_size=chunk_size)[1]


def nearest(gen: Tensor, train: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[Tensor, Tensor]:
    """(exact distance (float64), index) of the nearest training row for every generated row; ties: lower index."""
    dist, idx = knn(gen, 1, other=train, chunk_size=chunk_size)
    return dist[:, 0].contiguous(), idx[:, 0].contiguous()


def memorized_rows(
    train: Tensor, gen: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE, train_nn: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(memorised (M,) bool, d(g, t(g)) (M,), train_nn (one per distinct training row)) after validating the
    inputs."""
    train = as_features(train, "training", min_rows=2)
    gen = as_features(gen, "generated")
    same_dim(train, gen, "training", "generated")
    check_chunk_size(chunk_size)
    train, gen = common_dtype(train, gen)
    if train_nn is None:
        train_nn = knn_radii(train, [1], chunk_size=chunk_size)[1]
    elif train_nn.shape != (train.shape[0],):
        raise BenchError(f"metrics: train_nn must have shape ({train.shape[0]},), got {tuple(train_nn.shape)}")
    train_nn = train_nn.double()
    if not bool((train_nn > 0).all()):  # duplicates: each distinct training point once (module docstring)
        train = torch.unique(train, dim=0)
        if train.shape[0] >= 2:
            train_nn = knn_radii(train, [1], chunk_size=chunk_size)[1].double()
        else:
            train_nn = torch.zeros(1, dtype=torch.float64)
    dist, idx = nearest(gen, train, chunk_size=chunk_size)
    return (dist < train_nn[idx]) | (dist == 0), dist, train_nn


@few_threads_call
def memorization(
    train: Tensor,
    gen: Tensor,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    train_nn: Tensor | None = None,
) -> dict[str, float]:
    """memorized_share, authenticity, nn_gen_train_{mean,median,p05,p95}, nn_train_train_{...}."""
    return memorization_summary(*memorized_rows(train, gen, chunk_size=chunk_size, train_nn=train_nn))


def memorization_summary(memorized: Tensor, dist: Tensor, train_nn: Tensor) -> dict[str, float]:
    share = int(memorized.sum()) / memorized.shape[0]
    out = {"memorized_share": share, "authenticity": 1.0 - share}
    out.update(distance_summary("nn_gen_train", dist))
    out.update(distance_summary("nn_train_train", train_nn))
    return out
