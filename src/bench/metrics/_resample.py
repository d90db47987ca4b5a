"""Bootstrap replicates of the scored suite from one pass's distances and moments, without rescoring.

`score(..., bootstrap=n)` redraws the generated rows with replacement n times
(idx = randint(0, M, (M,)) from a generator seeded with `seed`) and evaluates
the suite on gen[idx]. A resample is fully described by the multiplicities
w = bincount(idx) of the generated rows, and every bootstrapped metric is a
function of w and of quantities the point estimate computes anyway:

* fid: the mean and covariance of gen[idx] are w-weighted sums of the rows
  and of their outer products, for all resamples in one matrix product; the
  Fréchet distance uses Tr (S_r S_g)^{1/2} = sum sqrt(eig(S_r^{1/2} S_g
  S_r^{1/2})), a symmetric eigenproblem, with S_r^{1/2} computed once (equal
  to torchmetrics' eigvals(S_r S_g) form up to round-off, of order sqrt(eps)
  times the scale of eigenvalues that are zero in exact arithmetic).
* vendi: the w-weighted Gram matrix of the normalised rows, likewise.
* precision, density, memorized_share, authenticity: w-weighted means of
  per-row outcomes of the pass. Class statistics: w-weighted class counts.
* coverage: real row i is covered iff some present generated row lies in its
  k_dc ball. The pass keeps each real row's first CAP such rows; a real row
  with more, none of whose kept rows is present, is checked against all rows.
* recall: in gen[idx] a copy of row j has w_j - 1 copies of itself at distance
  0 and w_l copies of every other row l (neighbours are "other" by index, as
  in `knn_radii`), so its k_pr-NN radius is the k_pr-th smallest value of that
  multiset: found by walking j's L = k_pr + 16 nearest other rows (kept from
  the k-NN search) with cumulative weights, or from all rows when their weights
  do not reach k_pr. The pass keeps, for each real row, up to RECALL_CAP pairs
  (j, rank of d(x_i, y_j) among [0, the L neighbour distances of y_j]) with
  d(x_i, y_j) within y_j's L-th neighbour distance, smallest ranks first, so
  "x_i in the ball of y_j" is one integer comparison; real rows whose list was
  cut short, and rows whose radius lies beyond their list, are checked exactly.

Everything but fid and vendi is an integer count, identical to rescoring
gen[idx] from scratch (`reference._bootstrap_rescore`, kept as the reference
and as the fallback when the pass could not keep its lists); fid and vendi
agree with it to round-off. tests/test_metrics_bootstrap.py checks both.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.nn.functional import normalize

from bench.metrics._common import mm, rows_to_all
from bench.metrics.fid import psd_sqrt
from bench.metrics.modes import mode_stats_from_counts
from bench.metrics.prdc import PassResult

NEIGHBOURS_EXTRA = 16  # L = k_pr + 16 neighbours per generated row: P(Poisson(19) < 3) ~ 1e-6 rows fall back
_SUB = 16  # resamples whose eigenvalues / coverage / recall are evaluated at once (memory: _SUB x M x L counts)
_TEMP = 1 << 22  # float64 elements (32 MB) per temporary: sizes the blocks below


def _packed_second_moments(w: Tensor, x: Tensor) -> Tensor:
    """(b, D(D+1)/2) upper triangles of sum_j w[b, j] x_j x_j^T for every row of w: one product of w with the
    rows' outer products (a block of rows at a time), so all resamples share one pass over x."""
    d = x.shape[1]
    t = d * (d + 1) // 2
    starts = [0, *torch.arange(d, 0, -1).cumsum(0).tolist()]  # row i of the triangle: columns i..d-1
    rows = max(1, min(512, _TEMP // t))
    acc = torch.zeros(w.shape[0], t, dtype=torch.float64)
    outer = torch.empty(min(rows, x.shape[0]), t, dtype=torch.float64)
    for s in range(0, x.shape[0], rows):
        block = x[s : s + rows]
        p = outer[: block.shape[0]]
        for i in range(d):
            torch.mul(block[:, i : i + 1], block[:, i:], out=p[:, starts[i] : starts[i + 1]])
        acc += mm(w[:, s : s + rows], p)
    return acc


def _unpack(packed: Tensor, d: int) -> Tensor:
    iu, ju = torch.triu_indices(d, d)
    out = torch.empty(packed.shape[0], d, d, dtype=torch.float64)
    out[:, iu, ju] = packed
    out[:, ju, iu] = packed
    return out


def _moment_blocks(w: Tensor, x: Tensor) -> Iterator[Tensor]:
    """(≤ _SUB, D, D) blocks of sum_j w[b, j] x_j x_j^T, _SUB resamples at a time. Small D: one packed pass over
    the rows' outer products, shared by all resamples. Large D, where a block of outer products would hold fewer
    than 64 rows and the per-row Python loop dominates (D = 2048: 165x slower), one weighted product
    x^T diag(w_b) x per resample."""
    d = x.shape[1]
    if _TEMP // (d * (d + 1) // 2) >= 64:
        packed = _packed_second_moments(w, x)
        for s in range(0, w.shape[0], _SUB):
            yield _unpack(packed[s : s + _SUB], d)
    else:
        for s in range(0, w.shape[0], _SUB):
            yield torch.stack([mm(x.T * wb, x) for wb in w[s : s + _SUB]])


def _vendi(gram: Tensor) -> Tensor:
    """vendi() from a batch of Gram matrices X^T X / n of normalised rows (the same eigenvalue entropy)."""
    eig = torch.linalg.eigvalsh(gram).clamp_min(0.0)
    total = eig.sum(dim=1, keepdim=True)
    p = eig / torch.where(total > 0, total, 1.0)
    entropy = -torch.where(p > 0, p * p.log(), 0.0).sum(dim=1)
    return torch.where(total[:, 0] > 0, entropy.exp(), 1.0)


def _lists(rows: Tensor, stored: Tensor) -> Tensor:
    width = max(int(stored.max()) if stored.numel() else 0, 1)
    return rows[:, :width].contiguous()


class SuiteResampler:
    """Replicates of the BOOTSTRAP_KEYS metrics for resamples of the generated rows (see module docstring)."""

    def __init__(
        self,
        *,
        real: Tensor,
        real_mean: Tensor,
        real_cov: Tensor,
        real_radii_dc: Tensor,
        gen: Tensor,
        k_pr: int,
        k_dc: int,
        strict: bool,
        prdc_pass: PassResult,
        neighbour_dist: Tensor,
        neighbour_idx: Tensor,
        labels: Tensor | None = None,
        real_class_counts: Tensor | None = None,
        min_relative_share: float = 0.1,
        memorized: Tensor | None = None,
    ):
        assert prdc_pass.complete and prdc_pass.cover is not None and prdc_pass.recall is not None, "lists kept"
        assert prdc_pass.in_precision is not None and prdc_pass.density_count is not None, "all four asked for"
        self.m, self.n = gen.shape[0], real.shape[0]
        self.k_pr, self.k_dc = k_pr, k_dc
        self.inside = torch.lt if strict else torch.le
        self.real64, self.gen64 = real.double(), gen.double()
        self.mean0 = self.gen64.mean(dim=0)
        self.centred = self.gen64 - self.mean0
        self.unit = normalize(self.gen64, dim=1)
        self.real_mean = real_mean.double()
        self.real_sqrt = psd_sqrt(real_cov)
        self.real_trace = float(real_cov.double().trace())
        self.r_dc = real_radii_dc.double()
        self.in_precision = prdc_pass.in_precision.long()
        self.density_count = prdc_pass.density_count
        cover, recall = prdc_pass.cover, prdc_pass.recall
        self.cover_rows = _lists(cover.rows, cover.stored)
        self.cover_cut = cover.total > cover.stored
        self.recall_real, self.recall_gen, self.recall_rank = recall.real, recall.gen, recall.rank
        self.recall_cut = recall.cut
        self.neighbour_idx = neighbour_idx
        self.radius_list = torch.cat([torch.zeros(self.m, 1, dtype=torch.float64), neighbour_dist.double()], dim=1)
        self.labels = labels.long() if labels is not None else None
        self.real_class_counts = real_class_counts
        self.min_relative_share = min_relative_share
        self.memorized = memorized.long() if memorized is not None else None

    def replicates(self, draws: Tensor) -> dict[str, Tensor]:
        """float64 replicates of every key for the resamples draws[b] = idx (B, M) of generated rows."""
        parts: dict[str, list[Tensor]] = {}
        d = self.centred.shape[1]
        # resamples per sweep: their weights (M) and packed moments (2 x D(D+1)/2) within 8 temporaries
        group = max(1, min(256, 8 * _TEMP // (2 * self.m + d * (d + 1))))
        for s in range(0, draws.shape[0], group):
            for key, value in self._group(draws[s : s + group]).items():
                parts.setdefault(key, []).append(value)
        return {key: torch.cat(values) for key, values in parts.items()}

    def _group(self, draws: Tensor) -> dict[str, Tensor]:
        b, m = draws.shape
        w = torch.zeros(b, m, dtype=torch.long).scatter_add_(1, draws, torch.ones_like(draws))
        wf = w.double()
        out: dict[str, Tensor] = {}

        d = self.centred.shape[1]
        dev = mm(wf, self.centred) / m
        fid = []
        for s, cov in zip(range(0, b, _SUB), _moment_blocks(wf, self.centred), strict=True):
            cov.sub_(m * dev[s : s + _SUB, :, None] * dev[s : s + _SUB, None, :]).div_(m - 1)
            fid.append(self._frechet(self.mean0 + dev[s : s + _SUB], cov))
        out["fid"] = torch.cat(fid)
        if m > d:
            out["vendi"] = torch.cat([_vendi(gram / m) for gram in _moment_blocks(wf, self.unit)])
        else:  # fewer rows than dimensions: the n x n Gram matrix, as vendi() takes it
            out["vendi"] = torch.cat([_vendi((self.unit[idx] @ self.unit[idx].T / m)[None]) for idx in draws])

        # integer counts, divided in float64 (exactly as Python's int / int, both correctly rounded)
        out["precision"] = (w * self.in_precision).sum(dim=1).double() / m
        out["density"] = (w * self.density_count).sum(dim=1).double() / (self.k_dc * m)
        coverage, recall = [], []
        for s in range(0, b, _SUB):
            coverage.append(self._coverage(w[s : s + _SUB]).sum(dim=1).double() / self.n)
            recall.append(self._recall(w[s : s + _SUB]).sum(dim=1).double() / self.n)
        out["coverage"], out["recall"] = torch.cat(coverage), torch.cat(recall)

        if self.labels is not None:
            assert self.real_class_counts is not None, "class counts come in pairs"
            counts = torch.zeros(b, self.real_class_counts.shape[0], dtype=torch.long).index_add_(1, self.labels, w)
            stats = [
                mode_stats_from_counts(c, self.real_class_counts, min_relative_share=self.min_relative_share)
                for c in counts
            ]
            for key in ("classes_covered", "kl_gen_real", "tv", "min_class_share"):
                out[key] = torch.tensor([st[key] for st in stats], dtype=torch.float64)
        if self.memorized is not None:
            out["memorized_share"] = (w * self.memorized).sum(dim=1).double() / m
            out["authenticity"] = 1.0 - out["memorized_share"]
        return out

    def _frechet(self, mu: Tensor, cov: Tensor) -> Tensor:
        """Fréchet distances to the reference for a batch of generated moments (symmetric form, see module)."""
        a = torch.matmul(torch.matmul(self.real_sqrt, cov), self.real_sqrt)
        c = torch.linalg.eigvalsh((a + a.transpose(1, 2)) / 2).clamp_min(0.0).sqrt().sum(dim=1)
        trace = cov.diagonal(dim1=1, dim2=2).sum(dim=1)
        return ((mu - self.real_mean).square().sum(dim=1) + self.real_trace + trace - 2 * c).clamp_min(0.0)

    def _coverage(self, w: Tensor) -> Tensor:
        """(b, N) real rows with some present generated row in their k_dc ball."""
        present = w > 0
        present_pad = torch.cat([present, present.new_zeros(present.shape[0], 1)], dim=1)  # index -1 reads False
        covered = present_pad[:, self.cover_rows].any(dim=2)
        for r in range(w.shape[0]):
            check = (~covered[r] & self.cover_cut).nonzero().flatten()
            if check.numel():
                d = rows_to_all(self.real64, check, self.gen64)
                covered[r, check] = (self.inside(d, self.r_dc[check, None]) & present[r][None, :]).any(dim=1)
        return covered

    def _recall(self, w: Tensor) -> Tensor:
        """(b, N) real rows inside the k_pr ball of some present generated row, radii taken in the resample."""
        big_l = self.neighbour_idx.shape[1]
        present = w > 0
        need = self.k_pr - (w - 1)  # neighbours needed besides the w_j - 1 copies at distance 0
        reach = torch.cumsum(w[:, self.neighbour_idx], dim=2)
        pos = torch.searchsorted(reach, need.clamp_min(1)[:, :, None]).squeeze(2)
        # index into radius_list = [0, nbr_1..nbr_L]: 0 when the copies alone make k_pr, L + 1 = beyond the list
        t = torch.where(need <= 0, torch.zeros_like(pos), pos + 1)
        hit = present[:, self.recall_gen] & (self.recall_rank[None, :] <= t[:, self.recall_gen])
        recalled = torch.zeros(w.shape[0], self.n, dtype=torch.long).index_add_(1, self.recall_real, hit.long()) > 0
        for r in range(w.shape[0]):
            beyond = (present[r] & (t[r] > big_l)).nonzero().flatten()
            check = (~recalled[r] & self.recall_cut).nonzero().flatten()
            if not beyond.numel() and not check.numel():
                continue
            radius = self.radius_list.gather(1, t[r].clamp(max=big_l)[:, None]).flatten()
            if beyond.numel():
                radius[beyond] = self._radius_from_all(beyond, w[r])
                d = rows_to_all(self.gen64, beyond, self.real64)
                recalled[r] |= self.inside(d, radius[beyond, None]).any(dim=0)
                check = (~recalled[r] & self.recall_cut).nonzero().flatten()
            if check.numel():
                d = rows_to_all(self.real64, check, self.gen64)
                recalled[r, check] = (self.inside(d, radius[None, :]) & present[r][None, :]).any(dim=1)
        return recalled

    def _radius_from_all(self, rows: Tensor, w: Tensor) -> Tensor:
        """The k_pr-th smallest distance from each generated row to the other copies in the resample."""
        d = rows_to_all(self.gen64, rows, self.gen64)
        weight = w[None, :].repeat(rows.shape[0], 1)
        weight[torch.arange(rows.shape[0]), rows] -= 1  # a row's own copy is not its neighbour
        d, order = d.sort(dim=1, stable=True)
        pos = torch.searchsorted(
            torch.cumsum(weight.gather(1, order), dim=1), torch.full_like(rows, self.k_pr)[:, None]
        )
        return d.gather(1, pos).flatten()
