"""Bootstrap replicates of the scored suite from one pass's distances and moments, without rescoring.

`score(..., bootstrap=n)` redraws the generated rows with replacement n times
(idx = randint(0, M, (M,)) from a generator seeded with `seed`) and evaluates
the suite on gen[idx]. A resample is fully described by the multiplicities
w = bincount(idx) of the generated rows, and every bootstrapped metric is a
function of w and of quantities the point estimate computes anyway:

* fid: the mean and covariance of gen[idx] are w-weighted sums over the rows
  present; the Fréchet distance uses its symmetric form with the reference
  covariance's square root computed once (`fid.frechet_distance_sqrt`).
* vendi: the w-weighted Gram matrix of the normalised rows.
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

import torch
from torch import Tensor
from torch.nn.functional import normalize

from bench.metrics._common import rows_to_all
from bench.metrics.fid import frechet_distance_sqrt, psd_sqrt
from bench.metrics.modes import mode_stats_from_counts
from bench.metrics.prdc import PassResult
from bench.metrics.vendi import vendi_from_gram

NEIGHBOURS_EXTRA = 16  # L = k_pr + 16 neighbours per generated row: P(Poisson(19) < 3) ~ 1e-6 rows fall back


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

    def replicate(self, idx: Tensor) -> dict[str, float]:
        m = self.m
        w = torch.bincount(idx, minlength=m)
        present = w > 0
        nz = present.nonzero().flatten()
        wf = w[nz].double()[:, None]
        out: dict[str, float] = {}

        xc = self.centred[nz]
        dev = (wf * xc).sum(dim=0) / m
        cov = (xc.T @ (wf * xc) - m * torch.outer(dev, dev)) / (m - 1)
        out["fid"] = frechet_distance_sqrt(self.real_mean, self.real_sqrt, self.real_trace, self.mean0 + dev, cov)

        if m > self.unit.shape[1]:
            xu = self.unit[nz]
            gram = xu.T @ (wf * xu) / m
        else:
            xu = self.unit[idx]
            gram = xu @ xu.T / m
        out["vendi"] = vendi_from_gram(gram)

        out["precision"] = int((w * self.in_precision).sum()) / m
        out["density"] = int((w * self.density_count).sum()) / (self.k_dc * m)
        present_pad = torch.cat([present, present.new_zeros(1)])  # index -1 (list padding) reads False
        out["coverage"] = int(self._coverage(present, present_pad).sum()) / self.n
        out["recall"] = int(self._recall(w, present).sum()) / self.n

        if self.labels is not None:
            assert self.real_class_counts is not None, "class counts come in pairs"
            counts = torch.zeros_like(self.real_class_counts).index_add_(0, self.labels, w)
            stats = mode_stats_from_counts(counts, self.real_class_counts, min_relative_share=self.min_relative_share)
            out.update({k: v for k, v in stats.items() if k != "class_shares"})
        if self.memorized is not None:
            share = int((w * self.memorized).sum()) / m
            out.update(memorized_share=share, authenticity=1.0 - share)
        return out

    def _coverage(self, present: Tensor, present_pad: Tensor) -> Tensor:
        covered = present_pad[self.cover_rows].any(dim=1)
        check = (~covered & self.cover_cut).nonzero().flatten()
        if check.numel():
            d = rows_to_all(self.real64, check, self.gen64)
            covered[check] = (self.inside(d, self.r_dc[check, None]) & present[None, :]).any(dim=1)
        return covered

    def _recall(self, w: Tensor, present: Tensor) -> Tensor:
        """Real rows inside the k_pr ball of some present generated row, radii taken in the resample."""
        big_l = self.neighbour_idx.shape[1]
        need = self.k_pr - (w - 1)  # neighbours needed besides the w_j - 1 copies at distance 0
        reach = torch.cumsum(w[self.neighbour_idx], dim=1)
        pos = torch.searchsorted(reach, need.clamp_min(1)[:, None]).flatten()
        # index into radius_list = [0, nbr_1..nbr_L]: 0 when the copies alone make k_pr, L + 1 = beyond the list
        t = torch.where(need <= 0, torch.zeros_like(pos), pos + 1)
        hit = present[self.recall_gen] & (self.recall_rank <= t[self.recall_gen])
        recalled = torch.zeros(self.n, dtype=torch.bool)
        recalled[self.recall_real[hit]] = True
        radius = self.radius_list.gather(1, t.clamp(max=big_l)[:, None]).flatten()
        beyond = (present & (t > big_l)).nonzero().flatten()
        if beyond.numel():
            radius[beyond] = self._radius_from_all(beyond, w)
            d = rows_to_all(self.gen64, beyond, self.real64)
            recalled |= self.inside(d, radius[beyond, None]).any(dim=0)
        check = (~recalled & self.recall_cut).nonzero().flatten()
        if check.numel():
            d = rows_to_all(self.real64, check, self.gen64)
            recalled[check] = (self.inside(d, radius[None, :]) & present[None, :]).any(dim=1)
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
