"""Precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020).

Notation: real X = {x_1..x_N}, generated Y = {y_1..y_M}; d the exact distance
of `bench.metrics._common` (float64, independent of chunking); r_k(x) =
distance from x to its k-th nearest OTHER point of its own set; B(x, r) the
ball {z : d(x, z) <= r} (strict=False, Kynkäänniemi's definition) or
{z : d(x, z) < r} (strict=True, as in Naeem's public `prdc` code).

  precision = 1/M sum_j 1[exists i: y_j in B(x_i, r_kpr(x_i))]
  recall    = 1/N sum_i 1[exists j: x_i in B(y_j, r_kpr(y_j))]
  density   = 1/(k_dc M) sum_j sum_i 1[y_j in B(x_i, r_kdc(x_i))]
  coverage  = 1/N sum_i 1[exists j: y_j in B(x_i, r_kdc(x_i))]

One pass over the (M, N) generated-to-real pairs in tiles of generated rows
gives all four. Each tile is one matrix product of guaranteed lower bounds
(see `_common`); a pair is decided by its bounds unless they straddle its
radius, and only those pairs are evaluated exactly, so every decision equals
the definition's. Tiles whose candidate pairs are few (the usual case) are
handled as a list of pairs; tiles where most pairs are inside (a generator
collapsed onto a dense real region, or spread far wider than the real data)
are handled as dense masks. Memory is O(chunk_size * max(N, M)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from bench.errors import BenchError
from bench.metrics._common import (
    BLOCK,
    DEFAULT_CHUNK_SIZE,
    Bounds,
    as_features,
    check_chunk_size,
    common_dtype,
    few_threads_call,
    grouped_layout,
    knn,
    knn_radii,
    round_up,
    row_chunks,
    same_dim,
    sq_hi,
    sq_lo,
)

_DENSE_SHARE = 4  # a tile's candidates are handled as dense masks when more than 1/4 of its blocks hold candidates
CAP = 16  # bootstrap: covering generated rows remembered per real row (see bench.metrics._resample)
RECALL_CAP = 256  # bootstrap: (generated row, rank) pairs remembered per real row, the smallest ranks first


def _check_radii(radii: Tensor | None, n: int, name: str) -> Tensor | None:
    if radii is None:
        return None
    if radii.dim() != 1 or radii.shape[0] != n:
        raise BenchError(f"metrics: {name} must have shape ({n},), got {tuple(radii.shape)}")
    return radii


class CappedLists:
    """Per real row, the first `cap` generated rows added for it (in the order added) and how many were added."""

    def __init__(self, n: int, cap: int):
        self.rows = torch.full((n, cap), -1, dtype=torch.long)
        self.stored = torch.zeros(n, dtype=torch.long)
        self.total = torch.zeros(n, dtype=torch.long)
        self.cap = cap

    def add(self, col: Tensor, row: Tensor, *, count: bool = True) -> None:
        """Append pairs (real row col[p], generated row row[p]); count=False leaves `total` to the caller."""
        if col.numel() == 0:
            return
        order = torch.argsort(col, stable=True)
        col, row = col[order], row[order]
        counts = torch.bincount(col, minlength=self.total.shape[0])
        rank = torch.arange(col.shape[0]) - (torch.cumsum(counts, 0) - counts)[col]
        pos = self.stored[col] + rank
        keep = pos < self.cap
        self.rows[col[keep], pos[keep]] = row[keep]
        self.stored = torch.clamp(self.stored + counts, max=self.cap)
        if count:
            self.total += counts

    def unsaturated(self) -> Tensor:
        return (self.stored < self.cap).nonzero().flatten()

    def reorder(self, index: Tensor) -> None:
        """Keep the lists of entries `index`, in that order (e.g. tile columns -> real rows)."""
        self.rows, self.stored, self.total = self.rows[index], self.stored[index], self.total[index]


class RankedPairs:
    """(real row, generated row, rank) triples, kept per real row up to `cap` with the smallest ranks (then rows).

    `add` collects (compacting to the kept ones whenever more than n * cap are pending, so memory stays
    O(n * cap) plus one tile's pairs); `finish` leaves flat tensors `real`, `gen`, `rank`, sorted by real row,
    and the per-real-row flag `cut` (pairs were dropped).
    """

    def __init__(self, n: int, cap: int):
        self.n, self.cap = n, cap
        self.parts: list[tuple[Tensor, Tensor, Tensor]] = []
        self.pending = 0
        self.total = torch.zeros(n, dtype=torch.long)
        self.real = self.gen = self.rank = torch.zeros(0, dtype=torch.long)
        self.cut = torch.zeros(n, dtype=torch.bool)

    def add(self, real: Tensor, gen: Tensor, rank: Tensor) -> None:
        if real.numel() == 0:
            return
        self.parts.append((real, gen, rank))
        self.total += torch.bincount(real, minlength=self.n)
        self.pending += real.shape[0]
        if self.pending > self.n * self.cap:
            self._compact()

    def _compact(self) -> None:
        self.parts.append((self.real, self.gen, self.rank))
        real, gen, rank = (torch.cat(t) for t in zip(*self.parts, strict=True))
        self.parts, self.pending = [], 0
        order = torch.argsort(gen, stable=True)
        order = order[torch.argsort(rank[order], stable=True)]
        order = order[torch.argsort(real[order], stable=True)]
        real, gen, rank = real[order], gen[order], rank[order]
        counts = torch.bincount(real, minlength=self.n)
        keep = torch.arange(real.shape[0]) - (torch.cumsum(counts, 0) - counts)[real] < self.cap
        self.real, self.gen, self.rank = real[keep], gen[keep], rank[keep]

    def finish(self) -> None:
        self._compact()
        self.cut = self.total > self.cap


@dataclass
class PassResult:
    """Per-row outcomes of one generated-to-real pass; the bootstrap reweights them (bench.metrics._resample)."""

    in_precision: Tensor | None  # (M,) bool: y_j inside some real k_pr ball
    density_count: Tensor | None  # (M,) int64: number of real k_dc balls holding y_j
    covered: Tensor | None  # (N,) bool
    recalled: Tensor | None  # (N,) bool
    cover: CappedLists | None = None  # real row i -> generated rows inside B(x_i, r_kdc)
    recall: RankedPairs | None = None  # (i, j, rank) for d(x_i, y_j) <= the farthest kept radius of y_j
    complete: bool = True  # False: the bootstrap lists could not be kept (too dense); rescore instead


def _sparse_decide(lv: Tensor, up: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    """(surely inside, undecided) for pairs with bounds lv <= S <= up against radii r (any strictness)."""
    sure = up < sq_lo(r)
    return sure, ~sure & (lv <= sq_hi(r))


def _round_down(t: Tensor, dtype: torch.dtype) -> Tensor:
    return -round_up(-t, dtype)


@few_threads_call
def prdc_pass(
    real: Tensor,
    gen: Tensor,
    *,
    r_pr: Tensor | None,
    r_dc: Tensor | None,
    gen_r: Tensor | None,
    gen_far: Tensor | None,
    gen_radius_list: Tensor | None,
    strict: bool,
    chunk_size: int,
) -> PassResult:
    """The generated-to-real pass. r_pr / r_dc: real radii (None skips precision / density+coverage); gen_r:
    generated k_pr radii (None skips recall). With `gen_far` (M,) and `gen_radius_list` (M, L+1) it also keeps,
    for the bootstrap, each real row's covering generated rows and, for every pair with d <= gen_far_j, the rank
    of d among [0, the L nearest-neighbour distances of y_j] (bench.metrics._resample).

    Tiles are generated rows x real rows; the real rows (tile columns) are sorted by their larger radius and
    grouped into blocks of BLOCK columns. One pass of block minima of the lower bounds against the largest
    threshold of each block (or of the generated row) leaves the few blocks that can hold a candidate; only
    those are read entry by entry. Tiles where most blocks are candidates are handled as dense masks.
    """
    n, m = real.shape[0], gen.shape[0]
    collect = gen_far is not None
    col_r = [r for r in (r_pr, r_dc) if r is not None]
    reach = torch.stack(col_r).amax(dim=0) if col_r else torch.zeros(n, dtype=torch.float64)
    bounds = Bounds(gen, real, grouped_layout(torch.argsort(reach, stable=True)))
    dt, width, nb = bounds.dtype, bounds.width, bounds.nb
    valid = bounds.layout >= 0
    real_of = bounds.layout.clamp(min=0)  # tile column -> real row (padding columns are never candidates)

    def per_column(r: Tensor | None) -> Tensor | None:  # float64 per tile column; NaN (never inside) for padding
        return None if r is None else torch.where(valid, r[real_of], float("nan"))

    pr_c, dc_c, reach_c = per_column(r_pr), per_column(r_dc), per_column(reach)
    assert reach_c is not None, "always per column"
    col_hi = round_up(sq_hi(reach_c), dt) if col_r else None  # NaN for padding: lam <= NaN is False
    col_hi_block = col_hi.nan_to_num(float("-inf")).view(BLOCK, nb).amax(dim=0) if col_hi is not None else None
    row_r = gen_far if collect else gen_r
    row_hi = round_up(sq_hi(row_r), dt) if row_r is not None else None
    res = PassResult(
        in_precision=torch.zeros(m, dtype=torch.bool) if r_pr is not None else None,
        density_count=torch.zeros(m, dtype=torch.long) if r_dc is not None else None,
        covered=torch.zeros(width, dtype=torch.bool) if r_dc is not None else None,  # per tile column until the end
        recalled=torch.zeros(width, dtype=torch.bool) if gen_r is not None else None,
        cover=CappedLists(width, CAP) if collect and r_dc is not None else None,
        recall=RankedPairs(n, RECALL_CAP) if collect and gen_r is not None else None,
    )
    inside = torch.lt if strict else torch.le
    buf = bounds.tile_buffer(min(chunk_size, m))
    for s, e in row_chunks(m, chunk_size):
        lam = bounds.lower(s, e, out=buf[: e - s])
        c = e - s
        bmin = bounds.block_min(lam)
        up = None
        if col_hi is not None:
            assert col_hi_block is not None, "with col_hi"
            found = _block_candidates(bounds, lam, bmin, col_hi_block[None, :], col_hi[None, :], None)
            if found is not None:
                jj, pp, lv = found
                _sparse_columns(bounds, s, c, jj, pp, lv, pr_c, dc_c, inside, res)
            else:
                up = _upper(lam, bounds, s, e)
                _dense_columns(lam, up, bounds, s, e, pr_c, dc_c, strict, res)
        if row_hi is not None:
            assert row_r is not None and gen_r is not None, "row thresholds come with generated radii"
            found = _block_candidates(bounds, lam, bmin, row_hi[s:e, None], None, row_hi[s:e])
            if found is not None:
                jj, pp, lv = found
                gj = jj + s
                upv = lv + bounds.slack(gj, pp)
                # with collection every candidate is needed exactly (its rank among y_j's radii); else only undecided
                sure, unc = _sparse_decide(lv, upv, gen_r[gj])
                pick = torch.arange(jj.shape[0]) if collect else unc.nonzero().flatten()
                dist = torch.zeros(jj.shape[0], dtype=torch.float64)
                dist[pick] = bounds.exact(gj[pick], pp[pick]).sqrt_()
                assert res.recalled is not None, "recall asked for"
                res.recalled[pp[sure | (unc & inside(dist, gen_r[gj]))]] = True
                if res.recall is not None:
                    assert gen_radius_list is not None and gen_far is not None, "collection needs the radius lists"
                    gp, cp, dp = gj[pick], pp[pick], dist[pick]
                    near = inside(dp, gen_far[gp])
                    gp, cp, dp = gp[near], cp[near], dp[near]
                    # rank = first position p in [0, nbr_1..nbr_L] with d <= list[p] (d < list[p] when strict)
                    rank = torch.searchsorted(gen_radius_list[gp], dp[:, None], right=strict).flatten()
                    res.recall.add(real_of[cp], gp, rank)
            else:
                if up is None:
                    up = _upper(lam, bounds, s, e)
                _dense_rows(lam, up, bounds, s, e, gen_r, strict, res)
                res.complete = False  # recall lists would hold most of the N x M pairs
    if res.recall is not None:
        res.recall.finish()
    # per tile column -> per real row
    column_of = torch.empty(n, dtype=torch.long)
    column_of[bounds.layout[valid]] = valid.nonzero().flatten()
    if res.covered is not None:
        res.covered = res.covered[column_of]
    if res.recalled is not None:
        res.recalled = res.recalled[column_of]
    if res.cover is not None:
        res.cover.reorder(column_of)
    return res


def _block_candidates(
    bounds: Bounds, lam: Tensor, bmin: Tensor, block_thr: Tensor, col_thr: Tensor | None, row_thr: Tensor | None
) -> tuple[Tensor, Tensor, Tensor] | None:
    """(tile rows, tile columns, float64 lam) of the entries under their threshold (per column or per row), found
    through the blocks whose minimum is under the block's threshold; None when too many blocks qualify."""
    cand = bmin <= block_thr
    if int(torch.count_nonzero(cand)) * _DENSE_SHARE > cand.numel():
        return None
    jb, bb = cand.nonzero().unbind(1)
    pos = bounds.block_positions(bb)  # (P, BLOCK)
    vals = lam[jb[:, None], pos]
    hit = vals <= (col_thr[0][pos] if col_thr is not None else row_thr[jb][:, None])  # type: ignore[index]
    pi, ti = hit.nonzero().unbind(1)
    return jb[pi], pos[pi, ti], vals[pi, ti].double()


def _sparse_columns(bounds, s, c, jj, pp, lv, pr_c, dc_c, inside, res: PassResult) -> None:
    """Precision / density / coverage decisions for candidate pairs (tile row jj, tile column pp)."""
    gj = jj + s
    upv = lv + bounds.slack(gj, pp)
    decided = {}
    need = torch.zeros(jj.shape[0], dtype=torch.bool)
    for name, r in (("pr", pr_c), ("dc", dc_c)):
        if r is not None:
            sure, unc = _sparse_decide(lv, upv, r[pp])
            decided[name] = (sure, unc)
            need |= unc
    dist = torch.zeros(jj.shape[0], dtype=torch.float64)
    pick = need.nonzero().flatten()
    dist[pick] = bounds.exact(gj[pick], pp[pick]).sqrt_()
    for name, r in (("pr", pr_c), ("dc", dc_c)):
        if r is None:
            continue
        sure, unc = decided[name]
        hit = sure | (unc & inside(dist, r[pp]))
        if name == "pr":
            assert res.in_precision is not None, "precision asked for"
            res.in_precision[gj[hit]] = True
        else:
            assert res.density_count is not None and res.covered is not None, "density asked for"
            res.density_count[s : s + c] += torch.bincount(jj[hit], minlength=c)
            res.covered[pp[hit]] = True
            if res.cover is not None:
                res.cover.add(pp[hit], gj[hit])


def _upper(lam: Tensor, bounds: Bounds, s: int, e: int) -> Tensor:
    """Guaranteed upper bounds lam + 2E(n_i + n_j) of a tile (the slack covers this sum's own rounding)."""
    up = lam + (2 * bounds.e * bounds.nx[s:e]).to(lam.dtype)[:, None]
    return up.add_((2 * bounds.e * bounds.ny).to(lam.dtype)[None, :])


def _exact_band(bounds: Bounds, s: int, band: Tensor, r_of_pair, inside) -> tuple[Tensor, Tensor, Tensor]:
    """Exact decisions for the undecided pairs of a dense tile: (tile rows, tile columns, inside)."""
    jj, pp = band.nonzero().unbind(1)
    d = bounds.exact(jj + s, pp).sqrt_()
    return jj, pp, inside(d, r_of_pair(jj, pp))


def _dense_columns(lam, up, bounds, s, e, pr_c, dc_c, strict, res: PassResult) -> None:
    inside = torch.lt if strict else torch.le
    dt = lam.dtype
    if pr_c is not None:
        assert res.in_precision is not None, "precision asked for"
        sure = up < _round_down(sq_lo(pr_c), dt)[None, :]
        hit = sure.any(dim=1)
        band = (lam <= round_up(sq_hi(pr_c), dt)[None, :]) & ~sure
        del sure
        jj, _, ok = _exact_band(bounds, s, band, lambda jj, pp: pr_c[pp], inside)
        hit[jj[ok]] = True
        res.in_precision[s:e] |= hit
    if dc_c is not None:
        assert res.density_count is not None and res.covered is not None, "density asked for"
        sure = up < _round_down(sq_lo(dc_c), dt)[None, :]
        band = (lam <= round_up(sq_hi(dc_c), dt)[None, :]) & ~sure
        jj, pp, ok = _exact_band(bounds, s, band, lambda jj, pp: dc_c[pp], inside)
        del band
        sure[jj[ok], pp[ok]] = True  # now: exactly inside
        res.density_count[s:e] += sure.sum(dim=1)
        per_column = sure.sum(dim=0)
        res.covered |= per_column > 0
        if res.cover is not None:
            _keep_first_coverers(sure, s, res.cover)
            res.cover.total += per_column


def _keep_first_coverers(inside: Tensor, s: int, cover: CappedLists) -> None:
    """Add each unsaturated column's first covering rows of a dense tile, a block of rows at a time."""
    step = 4 * cover.cap
    for b0 in range(0, inside.shape[0], step):
        cols = cover.unsaturated()
        if cols.numel() == 0:
            return
        ci, rj = inside[b0 : b0 + step, cols].T.nonzero().unbind(1)  # sorted by column, then row
        cover.add(cols[ci], rj + b0 + s, count=False)


def _dense_rows(lam, up, bounds, s, e, gen_r, strict, res: PassResult) -> None:
    inside = torch.lt if strict else torch.le
    dt = lam.dtype
    assert res.recalled is not None, "recall asked for"
    r = gen_r[s:e]
    sure = up < _round_down(sq_lo(r), dt)[:, None]
    hit = sure.any(dim=0)
    band = (lam <= round_up(sq_hi(r), dt)[:, None]) & ~sure
    del sure
    _, pp, ok = _exact_band(bounds, s, band, lambda jj, pp: r[jj], inside)
    hit[pp[ok]] = True
    res.recalled |= hit


def _prepare(real, gen):
    real = as_features(real, "real", min_rows=2)
    gen = as_features(gen, "generated", min_rows=1)
    same_dim(real, gen, "real", "generated")
    return common_dtype(real, gen)


@few_threads_call
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
            radii[name] = (computed[k] if given is None else given).double()
    gen_r = knn(gen, k_pr, chunk_size=chunk_size)[0][:, k_pr - 1].contiguous() if k_pr is not None else None
    res = prdc_pass(
        real,
        gen,
        r_pr=radii.get("real_radii_pr"),
        r_dc=radii.get("real_radii_dc"),
        gen_r=gen_r,
        gen_far=None,
        gen_radius_list=None,
        strict=strict,
        chunk_size=chunk_size,
    )
    return summarize(res, n, m, k_dc)


def summarize(res: PassResult, n: int, m: int, k_dc: int | None) -> dict[str, float]:
    out: dict[str, float] = {}
    if res.in_precision is not None:
        assert res.recalled is not None, "precision and recall come together"
        out["precision"] = int(res.in_precision.sum()) / m
        out["recall"] = int(res.recalled.sum()) / n
    if res.density_count is not None:
        assert k_dc is not None and res.covered is not None, "density needs k_dc"
        out["density"] = int(res.density_count.sum()) / (k_dc * m)
        out["coverage"] = int(res.covered.sum()) / n
    return out


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
