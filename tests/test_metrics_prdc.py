"""Precision / recall / density / coverage: definitions, strictness, chunking."""

import pytest
import torch

from bench.errors import BenchError
from bench.metrics import density_coverage, prdc, precision_recall
from bench.metrics._common import exact_sq_distances, knn, knn_radii, pairwise_distances


def line(*xs):
    return torch.tensor(xs, dtype=torch.float64)[:, None]


def brute_force(real, gen, k_pr, k_dc, strict):
    """Textbook PRDC from full distance matrices, computed by broadcasting (not cdist)."""

    def dist(a, b):
        return (a[:, None, :] - b[None, :, :]).square().sum(-1).sqrt()

    def radii(x, k):
        d = dist(x, x)
        d.fill_diagonal_(float("inf"))
        return d.sort(dim=1).values[:, k - 1]

    inside = torch.lt if strict else torch.le
    d_gr = dist(gen, real)
    r_pr, r_dc, g_pr = radii(real, k_pr), radii(real, k_dc), radii(gen, k_pr)
    return {
        "precision": inside(d_gr, r_pr[None]).any(1).double().mean().item(),
        "recall": inside(d_gr, g_pr[:, None]).any(0).double().mean().item(),
        "density": inside(d_gr, r_dc[None]).double().sum().item() / (k_dc * gen.shape[0]),
        "coverage": inside(d_gr, r_dc[None]).any(0).double().mean().item(),
    }


def test_points_on_a_line_strict_vs_non_strict():
    # real 0,1,2,3: every 1-NN radius is 1. gen 4,5,10: 1-NN radii 1, 1, 5.
    # gen 4 sits at distance exactly 1 from real 3 (radius 1), and real 3 at distance 1 from gen 4 (radius 1).
    real, gen = line(0, 1, 2, 3), line(4, 5, 10)
    loose = prdc(real, gen, k_pr=1, k_dc=1, strict=False)
    assert loose == {"precision": 1 / 3, "recall": 1 / 4, "density": 1 / 3, "coverage": 1 / 4}
    tight = prdc(real, gen, k_pr=1, k_dc=1, strict=True)
    assert tight == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_line_with_larger_k():
    # real 0,1,2,3 with k=2: radii 2, 1, 1, 2. gen 0.5, 2.5, 5 (k=2 radii 2, 2.5, 4.5)
    real, gen = line(0, 1, 2, 3), line(0.5, 2.5, 5)
    out = prdc(real, gen, k_pr=2, k_dc=2)
    # precision: 0.5 and 2.5 inside, 5 is 2 from real 3 (radius 2): inside -> 3/3
    assert out["precision"] == 1.0
    # recall: all real within 2 of 0.5 or within 2.5 of 2.5 -> 1
    assert out["recall"] == 1.0
    # density: 0.5 is inside balls of 0 (r2), 1 (r1), 2? |2-0.5|=1.5 > 1 no, 3? 2.5 > 2 no -> 2
    #          2.5 inside 1? 1.5 > 1 no; 2 (r1) yes; 3 (r2) yes; 0? 2.5 > 2 no -> 2
    #          5 inside 3 (|5-3| = 2 <= 2) -> 1        total 5 / (2 * 3)
    assert out["density"] == pytest.approx(5 / 6, abs=0)
    assert out["coverage"] == 1.0
    assert prdc(real, gen, k_pr=2, k_dc=2, strict=True)["precision"] == pytest.approx(2 / 3, abs=0)


def test_set_against_itself():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    for strict in (False, True):
        out = prdc(x, x, strict=strict)
        assert out["precision"] == out["recall"] == out["coverage"] == 1.0
        assert 0.5 < out["density"] < 2.0


def test_far_apart_sets_score_zero():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(200, 8, generator=g)
    gen = torch.randn(150, 8, generator=g) + 1000.0
    assert prdc(real, gen) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


@pytest.mark.parametrize("strict", [False, True])
def test_matches_brute_force(strict):
    g = torch.Generator().manual_seed(2)
    real = torch.randn(180, 5, generator=g, dtype=torch.float64)
    gen = 1.3 * torch.randn(130, 5, generator=g, dtype=torch.float64) + 0.8
    got = prdc(real, gen, k_pr=3, k_dc=5, strict=strict, chunk_size=17)
    want = brute_force(real, gen, 3, 5, strict)
    assert got == pytest.approx(want, abs=1e-15)
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1 and 0 < got["coverage"] < 1


def test_chunked_equals_unchunked_exactly():
    g = torch.Generator().manual_seed(3)
    real = torch.randn(1000, 32, generator=g)
    gen = 0.9 * torch.randn(700, 32, generator=g) + 0.1
    full = prdc(real, gen, chunk_size=10_000)
    full_radii = knn_radii(real, [3, 5], chunk_size=10_000)
    for chunk in (7, 128, 999):
        assert prdc(real, gen, chunk_size=chunk) == full
        radii = knn_radii(real, [3, 5], chunk_size=chunk)
        assert torch.equal(radii[3], full_radii[3]) and torch.equal(radii[5], full_radii[5])
    small_real, small_gen = real[:60], gen[:40]  # chunk_size=1: one cdist call per row, so keep it small
    assert prdc(small_real, small_gen, chunk_size=1) == prdc(small_real, small_gen, chunk_size=100)


def test_separate_functions_and_cached_radii_agree_with_prdc():
    g = torch.Generator().manual_seed(4)
    real, gen = torch.randn(400, 16, generator=g), torch.randn(300, 16, generator=g) + 0.2
    both = prdc(real, gen, k_pr=3, k_dc=5)
    pr = precision_recall(real, gen, k=3)
    dc = density_coverage(real, gen, k=5)
    assert {**pr, **dc} == both
    radii = knn_radii(real, [3, 5])
    assert prdc(real, gen, real_radii_pr=radii[3], real_radii_dc=radii[5]) == both
    # different k really changes the answer (the k arguments are used)
    assert prdc(real, gen, k_pr=1, k_dc=1) != both


def test_knn_radius_excludes_self_but_not_duplicates():
    x = line(0, 0, 5, 7)
    r = knn_radii(x, [1, 2])
    assert r[1].tolist() == [0.0, 0.0, 2.0, 2.0]
    assert r[2].tolist() == [5.0, 5.0, 5.0, 7.0]


def test_errors():
    x = torch.randn(10, 3)
    with pytest.raises(BenchError, match="chunk_size"):
        prdc(x, x, chunk_size=0)
    with pytest.raises(BenchError, match="at least 6 points"):
        knn_radii(x[:5], [5])
    with pytest.raises(BenchError, match="real_radii_pr"):
        prdc(x, x, real_radii_pr=torch.ones(9))


def _regimes():
    g = torch.Generator().manual_seed(6)
    real = torch.randn(400, 32, generator=g)
    return {
        "overlapping": (real, 0.9 * torch.randn(300, 32, generator=g) + 0.1),
        # generated rows at the real mean lie inside most real balls: the dense route of the pass
        "collapsed": (real, 0.05 * torch.randn(300, 32, generator=g)),
        # generated balls hold most real rows: the dense route for recall
        "wide": (real, 3.0 * torch.randn(300, 32, generator=g)),
        # duplicated rows (radius 0) on both sides, generated copies of real rows (ties at radii)
        "duplicates": (torch.cat([real[:200], real[:200]]), torch.cat([real[:100], real[:100], real[300:400]])),
        "identical": (real, torch.ones(300, 32)),
    }


@pytest.mark.parametrize("regime", sorted(_regimes()))
def test_every_regime_equals_the_definition_for_every_chunk_size(regime):
    real, gen = _regimes()[regime]
    for strict in (False, True):
        want = brute_force(real.double(), gen.double(), 3, 5, strict)
        for chunk in (1000, 64, 17):
            assert prdc(real, gen, strict=strict, chunk_size=chunk) == want, (regime, strict, chunk)


def test_float64_bounds_give_the_same_results():
    # bounds come from a float64 product when float32 matmuls may run at reduced precision
    g = torch.Generator().manual_seed(7)
    real, gen = torch.randn(500, 24, generator=g), 0.8 * torch.randn(400, 24, generator=g)
    want = prdc(real, gen, chunk_size=100)
    radii = knn_radii(real, [3, 5], chunk_size=100)
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")
        assert prdc(real, gen, chunk_size=77) == want
        again = knn_radii(real, [3, 5], chunk_size=300)
        assert torch.equal(again[3], radii[3]) and torch.equal(again[5], radii[5])
    finally:
        torch.set_float32_matmul_precision(before)


def test_exact_distance_does_not_depend_on_its_batch():
    g = torch.Generator().manual_seed(8)
    a, b = torch.randn(50, 130, generator=g), torch.randn(40, 130, generator=g) * 1e3
    full = pairwise_distances(a, b)
    ia, ib = torch.randint(0, 50, (300,), generator=g), torch.randint(0, 40, (300,), generator=g)
    one = exact_sq_distances(a, b, ia, ib)
    parts = torch.cat([exact_sq_distances(a, b, ia[s : s + 7], ib[s : s + 7]) for s in range(0, 300, 7)])
    assert torch.equal(one, parts)
    assert torch.equal(one.sqrt(), full[ia, ib])
    assert torch.equal(pairwise_distances(a, a).diagonal(), torch.zeros(50, dtype=torch.float64))


def test_knn_matches_sorting_all_distances():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(300, 16, generator=g)
    x[5] = x[6]
    d = pairwise_distances(x, x)
    d.fill_diagonal_(float("inf"))
    want_d, want_i = d.sort(dim=1, stable=True)
    for chunk in (1, 50, 1000):
        got_d, got_i = knn(x, 7, chunk_size=chunk)
        assert torch.equal(got_d, want_d[:, :7]) and torch.equal(got_i, want_i[:, :7])
    y = torch.randn(120, 16, generator=g)
    got_d, got_i = knn(y, 4, other=x, chunk_size=33)
    want_d, want_i = pairwise_distances(y, x).sort(dim=1, stable=True)
    assert torch.equal(got_d, want_d[:, :4]) and torch.equal(got_i, want_i[:, :4])
