"""Shared helpers: input checks, the exact distance, and fast exact k-NN / threshold searches.

The distance. Every distance in this package is

    dist(x, y) = sqrt(S),  S = sum_d (x_d - y_d)^2,

evaluated in float64 (float32 inputs are widened exactly) with the squares
summed in a fixed pairwise tree over d (`exact_sq_distances`). A pair's value
depends on the two rows only, never on which other rows are computed with it,
so k-NN radii and every `d <= r` decision are the same for any chunk size,
thread count or BLAS, and a copy of a point is at distance exactly 0.

Speed. Evaluating that definition for all N*M pairs costs a loop over D per
pair. Instead, candidates are found with one matrix product per tile:
rows are centred, rounded to float32 and extended by their squared norms so
that a single GEMM returns lam_ij ~ |x_i|^2 + |y_j|^2 - 2 x_i.y_j. Round-off
of that product (any summation order), of the rounding to float32 and of the
norms is bounded by E * (|x_i|^2 + |y_j|^2) with E = 2 (2K + 7) u (K = D + 2
terms, u the unit round-off; the factor 2 is slack). The norms enter the
product scaled by (1 - E), so the GEMM returns a guaranteed LOWER bound of
the true squared distance, lam <= S, and lam + 2E(|x|^2 + |y|^2) is a
guaranteed upper bound. A pair whose bounds lie on one side of a threshold
is decided by them; only pairs whose bounds straddle it (a thin band) are
evaluated exactly. k-NN searches take the k + 8 smallest lower bounds per
row (through block minima, see `Bounds`), evaluate exactly those within the
k-th smallest upper bound, and prove that no other pair can come closer
than the k-th exact value (else that row falls back to all its candidates).
Memory stays O(chunk_size * N).

Threads: the metrics run inside `few_threads` (one intra-op thread except for
large matrix products); see its docstring for why.

float32 bounds are used when the dimension is at most 1024, the norms fit,
and float32 matmuls run at full precision (torch.get_float32_matmul_precision()
is "highest"); otherwise the bounds come from a float64 product (2x slower,
same results).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import torch
from torch import Tensor

from bench.errors import BenchError

P = ParamSpec("P")
R = TypeVar("R")

# rows per tile; the tile of float32 bounds is chunk_size x N (512 x 10,000 x 4 B = 20 MB). Measured at 10k x 10k,
# prdc with cached radii: 512 rows 0.53-0.55 s, 256: 0.65, 1024: 0.64-0.69, 4096: 0.75-0.77 (results identical)
DEFAULT_CHUNK_SIZE = 512
# pairs evaluated exactly at once (at D = 128; scaled by 128 / D): 32768 x 128 x 8 B = 32 MB temporaries.
# Few large ops rather than many small ones: on a busy machine every op that torch splits across threads waits
# for the other thread to be scheduled (milliseconds), so thousands of small ops cost seconds.
_EXACT_BATCH = 32768
_KNN_SLACK = 8  # extra nearest candidates taken per row, so that the completeness proof rarely fails
_MARGIN = 1e-12  # relative widening of squared thresholds: covers float64 rounding of S, r^2 and sqrt


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


def row_chunks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


# ---- threads ----------------------------------------------------------------------------------

_caller_threads: int | None = None  # inside `few_threads`: the caller's intra-op thread count


@contextmanager
def few_threads() -> Iterator[None]:
    """Run torch ops on one intra-op thread inside the block, except matrix products through `mm`.

    The metrics are mostly many small and medium ops around a few large matrix products. An op that torch
    splits across threads waits for all of them at its end; on a machine shared with other work that wait
    is a scheduler slice (milliseconds), which made the suite 2-5x slower on a busy 2-core machine than on one
    thread. Large products (`mm`, at least _PARALLEL_FLOPS) still use the caller's threads. The setting is
    process-wide (as torch.set_num_threads is) and restored on exit; nested blocks are no-ops. Not meant for
    metrics called from several Python threads at once (they would share the setting). The price on an idle
    machine: c2st 0.37 -> 0.56 s at 10k (its matrix-vector products no longer split), kid about even.
    """
    global _caller_threads
    if _caller_threads is not None:
        yield
        return
    before = torch.get_num_threads()
    _caller_threads = before
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        _caller_threads = None


def few_threads_call(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: call `fn` inside `few_threads()`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with few_threads():
            return fn(*args, **kwargs)

    return wrapper


# Matrix products below this many flops run on one thread inside `few_threads`: one 1000 x 128 x 1000 float64
# product takes ~2.5 ms on one core, and on a busy machine waiting for a second thread costs more than it saves.
_PARALLEL_FLOPS = 1e9


@contextmanager
def caller_threads(flops: float = float("inf")) -> Iterator[None]:
    """Inside `few_threads`: run the block on the caller's threads if it does at least _PARALLEL_FLOPS of work."""
    n = _caller_threads
    if n is None or n <= 1 or flops < _PARALLEL_FLOPS:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(1)


def mm(a: Tensor, b: Tensor, out: Tensor | None = None) -> Tensor:
    """torch.mm, on the caller's threads when large (also inside `few_threads`)."""
    with caller_threads(2.0 * a.shape[0] * a.shape[1] * b.shape[1]):
        return torch.mm(a, b, out=out)


# ---- the exact distance -------------------------------------------------------------------------


def _tree_sum(sq: Tensor) -> Tensor:
    """Row sums of a (P, W) tensor in a fixed pairwise order (elementwise adds only: no reduction kernel)."""
    while sq.shape[1] > 1:
        w = sq.shape[1]
        h = w // 2
        head = sq[:, :h] + sq[:, h : 2 * h]
        sq = torch.cat((head, sq[:, 2 * h :]), dim=1) if w % 2 else head
    return sq[:, 0]


def exact_sq_distances(a: Tensor, b: Tensor, ia: Tensor, ib: Tensor) -> Tensor:
    """float64 S_p = sum_d (a[ia[p], d] - b[ib[p], d])^2 for every pair p (the definition; see module docstring)."""
    a, b = a.double(), b.double()  # no copy for float64 inputs; callers in loops pass float64
    out = torch.empty(ia.shape[0], dtype=torch.float64)
    batch = max(1, _EXACT_BATCH * 128 // max(a.shape[1], 1))
    for s, e in row_chunks(ia.shape[0], batch):
        diff = a[ia[s:e]] - b[ib[s:e]]
        out[s:e] = _tree_sum(diff.mul_(diff))
    return out


def pairwise_distances(a: Tensor, b: Tensor) -> Tensor:
    """All exact distances (len(a), len(b)) in float64: the definition, O(len(a) len(b) D); for small inputs."""
    ia = torch.arange(a.shape[0]).repeat_interleave(b.shape[0])
    ib = torch.arange(b.shape[0]).repeat(a.shape[0])
    return exact_sq_distances(a, b, ia, ib).sqrt_().view(a.shape[0], b.shape[0])


def rows_to_all(a: Tensor, rows: Tensor, b: Tensor) -> Tensor:
    """Exact distances (len(rows), len(b)) from the rows a[rows] to every row of b (in groups of rows, so the
    index temporaries stay near _EXACT_BATCH pairs)."""
    out = torch.empty(rows.shape[0], b.shape[0], dtype=torch.float64)
    step = max(1, _EXACT_BATCH // max(b.shape[0], 1))
    ib_all = torch.arange(b.shape[0])
    for s, e in row_chunks(rows.shape[0], step):
        ia = rows[s:e].repeat_interleave(b.shape[0])
        ib = ib_all.repeat(e - s)
        out[s:e] = exact_sq_distances(a, b, ia, ib).sqrt_().view(e - s, b.shape[0])
    return out


# ---- guaranteed bounds from one matrix product ----------------------------------------------------


def _bound_dtype(d: int, max_norm: float) -> torch.dtype:
    fast = d <= 1024 and max_norm < 1e30 and torch.get_float32_matmul_precision() == "highest"
    return torch.float32 if fast else torch.float64


BLOCK = 16  # columns per block of a tile (see Bounds.block_min)


def _blocks(m: int) -> int:
    return -(-m // BLOCK)


def identity_layout(m: int) -> Tensor:
    """Tile column p -> row p of y, padded with -1 to whole blocks."""
    return torch.cat([torch.arange(m), torch.full((_blocks(m) * BLOCK - m,), -1, dtype=torch.long)])


def grouped_layout(order: Tensor) -> Tensor:
    """Tile column -> row of y (-1: padding) such that each block (`Bounds.block_min`) holds BLOCK consecutive
    rows of `order`: with rows sorted by a threshold, each block's thresholds are close to each other."""
    m = order.shape[0]
    nb = _blocks(m)
    rank = (torch.arange(nb)[None, :] * BLOCK + torch.arange(BLOCK)[:, None]).reshape(-1)  # rank held by column
    return torch.where(rank < m, order[rank.clamp(max=m - 1)], -1)


class Bounds:
    """Lower / upper bounds of squared distances between the rows of `x` and `y` from one GEMM per tile.

    `lower(s, e)` is the (e - s, width) tile lam over the columns of `layout` (position p holds y row layout[p];
    -1 is padding, whose lam is huge), with lam_ip <= S(x_i, y_layout[p]) <= lam_ip + slack, slack =
    2E (nx_i + ny_p) (see module docstring). `x` and `y` may be the same tensor. Columns come in nb blocks of
    BLOCK: block b is the columns b, b + nb, b + 2 nb, ..., so `block_min` is one vectorised pass.
    """

    def __init__(self, x: Tensor, y: Tensor, layout: Tensor | None = None):
        self.x, self.y = x, y
        self.layout = identity_layout(y.shape[0]) if layout is None else layout
        self.width = self.layout.shape[0]
        self.nb = self.width // BLOCK
        assert self.nb * BLOCK == self.width, "the layout is whole blocks"
        xd = x.double()
        yd = xd if y is x else y.double()
        self.x64, self.y64 = xd, yd  # the exact distance reads these
        centre = (xd.mean(dim=0) + yd.mean(dim=0)) / 2 if x is not y else xd.mean(dim=0)
        xc = xd - centre
        yc = xc if x is y else yd - centre
        nmax = max(float(xc.square().sum(dim=1).max()), float(yc.square().sum(dim=1).max()))
        self.dtype = _bound_dtype(x.shape[1], nmax)
        k = x.shape[1] + 2
        u = torch.finfo(self.dtype).eps / 2
        self.e = 2.0 * (2 * k + 7) * u
        xr = xc.to(self.dtype)
        self.nx = xr.double().square().sum(dim=1)  # float64 norms of the rounded rows
        ones_x = torch.ones(x.shape[0], 1, dtype=self.dtype)
        self.left = torch.cat([xr, ((1 - self.e) * self.nx).to(self.dtype)[:, None], ones_x], dim=1)
        yr = xr if x is y else yc.to(self.dtype)
        pad = self.layout < 0
        rows = self.layout.clamp(min=0)
        yr = yr[rows].masked_fill_(pad[:, None], 0.0)
        self.ny = yr.double().square().sum(dim=1)  # per position; 0 for padding
        ones_y = (~pad).to(self.dtype)[:, None]
        norm_y = ((1 - self.e) * self.ny).to(self.dtype).masked_fill_(pad, torch.finfo(self.dtype).max / 4)
        self.right_t = torch.cat([-2 * yr, ones_y, norm_y[:, None]], dim=1).T

    def lower(self, s: int, e: int, out: Tensor | None = None) -> Tensor:
        return mm(self.left[s:e], self.right_t, out=out)

    def block_min(self, lam: Tensor) -> Tensor:
        """(rows, nb) minimum of each block of a tile."""
        return lam.view(lam.shape[0], BLOCK, self.nb).amin(dim=1)

    def block_positions(self, blocks: Tensor) -> Tensor:
        """(..., BLOCK) tile columns of the given blocks."""
        return blocks[..., None] + self.nb * torch.arange(BLOCK)

    def exact(self, i: Tensor, p: Tensor) -> Tensor:
        """Exact S (float64) for rows i of x and tile columns p."""
        return exact_sq_distances(self.x64, self.y64, i, self.layout[p])

    def slack(self, i: Tensor, p: Tensor) -> Tensor:
        """float64 2E (nx_i + ny_p) for rows i of x and tile columns p."""
        return 2 * self.e * (self.nx[i] + self.ny[p])

    def tile_buffer(self, rows: int) -> Tensor:
        return torch.empty(rows, self.width, dtype=self.dtype)


def sq_hi(r: Tensor) -> Tensor:
    """Squared thresholds widened up: S > sq_hi(r) implies dist > r."""
    return r.double().square() * (1 + _MARGIN)


def sq_lo(r: Tensor) -> Tensor:
    """Squared thresholds narrowed down: S < sq_lo(r) implies dist < r (for r > 0)."""
    return r.double().square() * (1 - _MARGIN)


def round_up(t: Tensor, dtype: torch.dtype) -> Tensor:
    """float64 values rounded to `dtype` towards +inf (so `lam <= round_up(t)` keeps every lam <= t)."""
    r = t.to(dtype)
    return torch.where(r.double() < t, torch.nextafter(r, torch.full_like(r, float("inf"))), r)


# ---- k nearest neighbours ------------------------------------------------------------------------


def _sort_pairs(sq: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    """Sort each row of (values, indices) by value, ties by index."""
    idx, perm = idx.sort(dim=1)
    sq = sq.gather(1, perm)
    sq, perm = sq.sort(dim=1, stable=True)
    return sq, idx.gather(1, perm)


def _knn_rows_from_all(
    x: Tensor, y: Tensor, lam: Tensor, bad: Tensor, s: int, kth: Tensor, k: int, out_sq: Tensor, out_idx: Tensor
) -> None:
    """The k nearest for tile rows `bad` from every pair whose lower bound is within their k-th candidate value."""
    cand = lam[bad].double() <= (kth * (1 + _MARGIN))[:, None]
    rr, cc = cand.nonzero().unbind(1)
    sq = exact_sq_distances(x, y, bad[rr] + s, cc)
    counts = torch.bincount(rr, minlength=bad.shape[0])
    width = int(counts.max())
    pos = torch.arange(rr.shape[0]) - (torch.cumsum(counts, 0) - counts)[rr]
    msq = torch.full((bad.shape[0], width), float("inf"), dtype=torch.float64)
    midx = torch.full((bad.shape[0], width), torch.iinfo(torch.long).max, dtype=torch.long)
    msq[rr, pos], midx[rr, pos] = sq, cc
    msq, midx = _sort_pairs(msq, midx)
    out_sq[bad + s], out_idx[bad + s] = msq[:, :k], midx[:, :k]


@few_threads_call
def knn(
    x: Tensor, k: int, *, other: Tensor | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[Tensor, Tensor]:
    """The k nearest rows of `other` to each row of `x`, by the exact distance.

    Without `other`: the k nearest OTHER rows of `x` (by index: a row's own zero distance is excluded,
    exact duplicates are not). Returns (distances (n, k) float64, ascending; indices (n, k) int64),
    ties broken by the lower index. Identical for any chunk_size.
    """
    check_chunk_size(chunk_size)
    y = x if other is None else other
    n, m = x.shape[0], y.shape[0]
    avail = m - 1 if other is None else m
    if not isinstance(k, int) or k < 1:
        raise BenchError(f"metrics: k for k-NN must be a positive integer, got {k!r}")
    if k > avail:
        need = k + 1 if other is None else k
        raise BenchError(f"metrics: k={k} nearest neighbours need at least {need} points, got {m}")
    bounds = Bounds(x, y)  # identity layout: tile column p is row p of y (p < m)
    kk = min(k + _KNN_SLACK, avail)
    out_sq = torch.empty(n, k, dtype=torch.float64)
    out_idx = torch.empty(n, k, dtype=torch.long)
    buf = bounds.tile_buffer(min(chunk_size, n))
    for s, e in row_chunks(n, chunk_size):
        lam = bounds.lower(s, e, out=buf[: e - s])
        rows = torch.arange(e - s)
        if other is None:
            lam[rows, rows + s] = float("inf")
        if bounds.nb >= kk:
            # The kk smallest lam of a row lie in its kk blocks of smallest minimum: any entry elsewhere is >= its
            # block's minimum >= the kk-th smallest minimum, and those kk minima are kk entries. (Every block holds
            # >= BLOCK - 1 >= 2 real columns, so no block minimum is the self entry's inf or padding.)
            _, blocks = torch.topk(bounds.block_min(lam), kk, dim=1, largest=False, sorted=False)
            cols = bounds.block_positions(blocks).reshape(e - s, -1)
            lv, pos = torch.topk(lam.gather(1, cols), kk, dim=1, largest=False, sorted=False)
            li = cols.gather(1, pos)
        else:
            lv, li = torch.topk(lam, kk, dim=1, largest=False, sorted=False)
        # Only candidates whose lower bound is within the k-th smallest upper bound can be among the k nearest.
        ri = (rows + s)[:, None].expand(-1, kk)
        lvd = lv.double()
        upper = lvd + bounds.slack(ri, li)
        theta = torch.kthvalue(upper, k, dim=1).values * (1 + _MARGIN)
        sel = (lvd <= theta[:, None]).nonzero().unbind(1)
        sq = torch.full((e - s, kk), float("inf"), dtype=torch.float64)
        sq[sel] = exact_sq_distances(bounds.x64, bounds.y64, ri[sel], li[sel])
        sq, li = _sort_pairs(sq, li)
        # Every pair outside the candidates has S >= lam >= max(lv). If that bound is above the k-th exact
        # value, no outside pair can come closer or tie (so ties at the k-th value are all candidates).
        # A k-th value of 0 cannot be undercut either (only tied, by exact duplicates: any of them serves).
        kth = sq[:, k - 1]
        out_sq[s:e], out_idx[s:e] = sq[:, :k], li[:, :k]
        if kk < avail:
            incomplete = (lv.max(dim=1).values.double() <= kth * (1 + _MARGIN)) & (kth > 0)
            if bool(incomplete.any()):
                bad = incomplete.nonzero().flatten()
                _knn_rows_from_all(bounds.x64, bounds.y64, lam, bad, s, kth[bad], k, out_sq, out_idx)
    return out_sq.sqrt_(), out_idx


def knn_radii(x: Tensor, ks: tuple[int, ...] | list[int], *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[int, Tensor]:
    """Distance (float64) from each row of `x` to its k-th nearest OTHER row, for each k in `ks`.

    "Other" is by index: a row's own zero self-distance is excluded, exact
    duplicates of a row are not (they give radius 0). Memory O(chunk_size * N).
    """
    check_chunk_size(chunk_size)
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise BenchError(f"metrics: k for k-NN radii must be >= 1, got {ks}")
    dist, _ = knn(x, ks[-1], chunk_size=chunk_size)
    return {k: dist[:, k - 1].contiguous() for k in ks}
