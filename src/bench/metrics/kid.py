"""Kernel Inception Distance (Binkowski et al. 2018), seeded.

Same estimator as `torchmetrics.image.kid.KernelInceptionDistance`: for each
of `subsets` rounds draw `subset_size` rows of each set without replacement
(real first, then generated, each by `randperm`), take the unbiased MMD^2
with the polynomial kernel k(x, y) = (gamma x.y + coef)^degree, gamma = 1/D by
default, and report the mean and the population std (unbiased=False) over
the rounds. torchmetrics draws from the global RNG; here the draws come from
an explicit `torch.Generator` (seeded with `seed` unless one is passed), so
results are reproducible and leave the global RNG alone. With the same seed
in the global RNG, torchmetrics draws the same subsets (checked in tests).

Two exact evaluation routes (float64 throughout; they differ only in round-off):

* "subsets": per round, the three (m, m) kernel blocks of torchmetrics; the
  symmetric real-real and generated-generated sums from the halves of each
  subset (K(A, A) + K(B, B) + 2 K(A, B) off the diagonal), so the cost is
  ~ 2.5 * subsets * m^2 * D.
* "full": kernel rows computed once in chunks over all pairs, and each round's
  sum over its block obtained as w^T K w with 0/1 indicator vectors w for all
  rounds at once; cost ~ (N_r^2 + N_g^2 + N_r N_g) * (D + subsets), memory
  O(chunk_size * N). Cheaper when the sets are not much larger than m.

"auto" picks the cheaper one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.errors import BenchError
from bench.metrics._common import (
    as_features,
    caller_threads,
    check_chunk_size,
    few_threads_call,
    mm,
    row_chunks,
    same_dim,
)

# rows of float64 kernel values held at once by the "full" route: 1024 x 10,000 x 8 B = 80 MB
KID_CHUNK_SIZE = 1024


def _kernel(a: Tensor, b: Tensor, degree: int, gamma: float, coef: float) -> Tensor:
    with caller_threads(2.0 * a.shape[0] * a.shape[1] * b.shape[0]):  # coef + gamma a b^T in the product itself
        k = torch.addmm(torch.tensor(coef, dtype=a.dtype), a, b.T, beta=1.0, alpha=gamma)
    return k.pow_(degree)


def _off_diagonal_sum(f: Tensor, degree: int, gamma: float, coef: float) -> Tensor:
    """sum_{i != j} k(f_i, f_j) from the blocks [A; B] of f: K(A, A), K(B, B) and twice K(A, B) (3/4 of the work)."""
    h = f.shape[0] // 2
    a, b = f[:h], f[h:]
    k_aa = _kernel(a, a, degree, gamma, coef)
    total = k_aa.sum() - k_aa.diagonal().sum()
    del k_aa
    k_bb = _kernel(b, b, degree, gamma, coef)
    total += k_bb.sum() - k_bb.diagonal().sum()
    del k_bb
    return total + 2 * _kernel(a, b, degree, gamma, coef).sum()


def _draw_subsets(n_real: int, n_gen: int, m: int, subsets: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    idx_r = torch.empty(subsets, m, dtype=torch.long)
    idx_g = torch.empty(subsets, m, dtype=torch.long)
    for s in range(subsets):  # interleaved like torchmetrics' compute()
        idx_r[s] = torch.randperm(n_real, generator=generator)[:m]
        idx_g[s] = torch.randperm(n_gen, generator=generator)[:m]
    return idx_r, idx_g


def _mmd_subsets(real, gen, idx_r, idx_g, degree, gamma, coef) -> Tensor:
    m = idx_r.shape[1]
    out = torch.empty(idx_r.shape[0], dtype=torch.float64)
    for s in range(idx_r.shape[0]):
        fr, fg = real[idx_r[s]], gen[idx_g[s]]
        xx = _off_diagonal_sum(fr, degree, gamma, coef)
        yy = _off_diagonal_sum(fg, degree, gamma, coef)
        xy = _kernel(fr, fg, degree, gamma, coef).sum()
        out[s] = (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)
    return out


def _indicator(n: int, idx: Tensor) -> Tensor:
    w = torch.zeros(n, idx.shape[0], dtype=torch.float64)
    w.scatter_(0, idx.T.contiguous(), 1.0)
    return w


def _block_sums(a: Tensor, b: Tensor, wa: Tensor, wb: Tensor, degree, gamma, coef, chunk_size) -> Tensor:
    """For every round s: sum_{i in A_s, j in B_s} k(a_i, b_j), computed in row chunks of `a`."""
    total = torch.zeros(wa.shape[1], dtype=torch.float64)
    for s, e in row_chunks(a.shape[0], chunk_size):
        kc = _kernel(a[s:e], b, degree, gamma, coef)
        total += (wa[s:e] * mm(kc, wb)).sum(dim=0)
        del kc
    return total


def _mmd_full(real, gen, idx_r, idx_g, degree, gamma, coef, chunk_size) -> Tensor:
    m = idx_r.shape[1]
    w_r, w_g = _indicator(real.shape[0], idx_r), _indicator(gen.shape[0], idx_g)
    diag_r = (real.square().sum(dim=1) * gamma + coef) ** degree
    diag_g = (gen.square().sum(dim=1) * gamma + coef) ** degree
    xx = _block_sums(real, real, w_r, w_r, degree, gamma, coef, chunk_size) - diag_r @ w_r
    yy = _block_sums(gen, gen, w_g, w_g, degree, gamma, coef, chunk_size) - diag_g @ w_g
    xy = _block_sums(real, gen, w_r, w_g, degree, gamma, coef, chunk_size)
    return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)


@few_threads_call
def kid_values(
    real: Tensor,
    gen: Tensor,
    *,
    subset_size: int = 1000,
    subsets: int = 100,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    generator: torch.Generator | None = None,
    seed: int = 0,
    method: str = "auto",
    chunk_size: int = KID_CHUNK_SIZE,
) -> Tensor:
    """The per-round unbiased MMD^2 values (float64 tensor of length `subsets`); see `kid`."""
    real = as_features(real, "real").double()
    gen = as_features(gen, "generated").double()
    same_dim(real, gen, "real", "generated")
    check_chunk_size(chunk_size)
    if not isinstance(subset_size, int) or subset_size < 2:
        raise BenchError(f"metrics.kid_subset_size must be an integer >= 2, got {subset_size!r}")
    if not isinstance(subsets, int) or subsets < 1:
        raise BenchError(f"metrics.kid_subsets must be an integer >= 1, got {subsets!r}")
    for n, what in ((gen.shape[0], "generated"), (real.shape[0], "real")):
        if n < subset_size:
            raise BenchError(
                f"metrics.kid_subset_size={subset_size} needs at least {subset_size} {what} samples, got {n}"
            )
    if method not in ("auto", "subsets", "full"):
        raise BenchError(f"metrics: KID method must be one of auto, subsets, full; got {method!r}")
    gamma = 1.0 / real.shape[1] if gamma is None else float(gamma)
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    idx_r, idx_g = _draw_subsets(real.shape[0], gen.shape[0], subset_size, subsets, generator)
    if method == "auto":
        n_r, n_g, d = real.shape[0], gen.shape[0], real.shape[1]
        full_cost = (n_r * n_r + n_g * n_g + n_r * n_g) * (d + subsets)
        subset_cost = 5 * subsets * subset_size * subset_size * (d + 4) // 2
        method = "full" if full_cost < subset_cost else "subsets"
    if method == "full":
        return _mmd_full(real, gen, idx_r, idx_g, degree, gamma, coef, chunk_size)
    return _mmd_subsets(real, gen, idx_r, idx_g, degree, gamma, coef)


def kid(
    real: Tensor,
    gen: Tensor,
    *,
    subset_size: int = 1000,
    subsets: int = 100,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    generator: torch.Generator | None = None,
    seed: int = 0,
    method: str = "auto",
    chunk_size: int = KID_CHUNK_SIZE,
) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial-kernel MMD^2 over `subsets` random subsets of `subset_size` rows.

    Raises BenchError if either set has fewer than `subset_size` rows. The mean
    can be slightly negative when the sets match (the estimator is unbiased).
    """
    values = kid_values(
        real,
        gen,
        subset_size=subset_size,
        subsets=subsets,
        degree=degree,
        gamma=gamma,
        coef=coef,
        generator=generator,
        seed=seed,
        method=method,
        chunk_size=chunk_size,
    )
    return float(values.mean()), float(values.std(unbiased=False))
