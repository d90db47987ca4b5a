"""score()'s bootstrap: the fast path (bench.metrics._resample) against rescoring every resample from scratch."""

import importlib

import pytest
import torch

from bench.metrics import BOOTSTRAP_KEYS, RealReference, score, train_nn_distances
from bench.metrics import reference as reference_module
from bench.metrics.modes import class_counts
from bench.metrics.reference import _bootstrap_replicates, _bootstrap_rescore, _cheap_suite

prdc_module = importlib.import_module("bench.metrics.prdc")  # bench.metrics.prdc is also the function's name
resample_module = importlib.import_module("bench.metrics._resample")

ROUNDED = ("fid", "vendi")  # weighted moments vs moments of the gathered rows: equal up to round-off
EXACT = [k for k in BOOTSTRAP_KEYS if k not in ROUNDED]


def _data(kind: str):
    g = torch.Generator().manual_seed(11)
    # the generated sets are large enough for their k_pr + 16 nearest neighbours to be a small share of them
    # (else every generated ball holds many real rows and the pass keeps no lists, as for "wide")
    real = torch.randn(700, 32, generator=g)
    real_labels = torch.randint(0, 10, (700,), generator=g)
    train = torch.randn(300, 32, generator=g)
    if kind == "normal":
        gen = 0.9 * torch.randn(800, 32, generator=g) + 0.1
    elif kind == "collapsed":  # every generated row inside most real balls: the pass's dense route
        gen = 0.05 * torch.randn(800, 32, generator=g)
    elif kind == "duplicates":  # repeated generated rows (radius 0), copies of real and training rows
        base = 0.8 * torch.randn(300, 32, generator=g)
        gen = torch.cat([base[torch.randint(0, 300, (700,), generator=g)], real[:50], train[:50]])
    elif kind == "tiny":  # fewer generated rows than dimensions (Vendi's n x n route), every row a neighbour
        gen = 0.05 * torch.randn(20, 32, generator=g)
    elif kind == "wide":  # generated balls hold most real rows: no lists kept, the fallback rescoring runs
        gen = 6.0 * torch.randn(800, 32, generator=g)
    else:
        raise AssertionError(kind)
    gen_labels = torch.randint(0, 8, (gen.shape[0],), generator=g)
    return real, real_labels, gen, gen_labels, train


def _replicates(kind: str, strict: bool, n: int = 6, seed: int = 3):
    real, real_labels, gen, gen_labels, train = _data(kind)
    ref = RealReference.from_features(real, real_labels, num_classes=10)
    train_nn = train_nn_distances(train)
    keep: dict = {}
    out = _cheap_suite(ref, gen, class_counts(gen_labels, 10), train, train_nn, strict, 0.1, 37, keep)
    keys = [k for k in BOOTSTRAP_KEYS if k in out]
    assert sorted(keys) == sorted(BOOTSTRAP_KEYS)
    args = (ref, gen, gen_labels, train, train_nn, strict, 0.1, 37, n, seed)
    fast = _bootstrap_replicates(*args, keep, keys)
    slow = _bootstrap_rescore(*args, keys)
    return keep["prdc_pass"].complete, fast, slow


def _assert_same(fast, slow):
    for k in EXACT:
        assert torch.equal(fast[k], slow[k]), (k, fast[k], slow[k])
    for k in ROUNDED:
        assert torch.allclose(fast[k], slow[k], rtol=1e-9, atol=1e-7), (k, fast[k], slow[k])


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("kind", ["normal", "collapsed", "duplicates", "tiny"])
def test_fast_replicates_equal_rescoring(monkeypatch, kind, strict):
    dense = []
    real_dense_columns = prdc_module._dense_columns
    monkeypatch.setattr(prdc_module, "_dense_columns", lambda *a: dense.append(1) or real_dense_columns(*a))
    complete, fast, slow = _replicates(kind, strict)
    assert complete
    assert bool(dense) or kind != "collapsed"  # the collapsed set goes the dense way, and keeps its lists
    _assert_same(fast, slow)
    # the replicates really vary (a resample is not the original set)
    assert fast["fid"].std() > 0 and (fast["density"].std() > 0 or kind == "tiny")


@pytest.mark.parametrize("strict", [False, True])
def test_fast_replicates_equal_rescoring_through_every_fallback(monkeypatch, strict):
    # 2 coverers / recall pairs per real row and only k_pr neighbours per generated row: lists are cut short
    # and radii fall beyond them in most resamples, so the exact checks against all rows run
    monkeypatch.setattr(prdc_module, "CAP", 2)
    monkeypatch.setattr(prdc_module, "RECALL_CAP", 2)
    monkeypatch.setattr(reference_module, "NEIGHBOURS_EXTRA", 0)
    calls = []
    real_rows_to_all = resample_module.rows_to_all
    monkeypatch.setattr(resample_module, "rows_to_all", lambda *a: calls.append(a[1].numel()) or real_rows_to_all(*a))
    for kind in ("normal", "duplicates"):
        complete, fast, slow = _replicates(kind, strict, n=5)
        assert complete
        _assert_same(fast, slow)
    assert len(calls) > 10 and sum(calls) > 50


def test_wide_generator_falls_back_to_rescoring():
    complete, fast, slow = _replicates("wide", False, n=3)
    assert not complete
    _assert_same(fast, slow)


def test_score_intervals_come_from_the_fast_path(monkeypatch):
    real, real_labels, gen, gen_labels, train = _data("normal")
    ref = RealReference.from_features(real, real_labels, num_classes=10)
    kw = dict(train_feats=train, kid_subset_size=50, kid_subsets=3, bootstrap=7, seed=2)
    fast = score(ref, gen, gen_labels, **kw)

    def no_rescoring(*a, **k):
        raise AssertionError("the fast path should have been taken")

    monkeypatch.setattr(reference_module, "_bootstrap_rescore", no_rescoring)
    assert score(ref, gen, gen_labels, **kw) == fast
    # the intervals equal those of the rescoring path (the draws are the same seeded ones)
    monkeypatch.undo()
    monkeypatch.setattr(prdc_module, "_DENSE_SHARE", 0)  # every tile dense: no lists kept, rescoring runs
    slow = score(ref, gen, gen_labels, **kw)
    for key in BOOTSTRAP_KEYS:
        for end in ("_ci_low", "_ci_high"):
            assert slow[key + end] == pytest.approx(fast[key + end], rel=1e-9, abs=1e-7), key + end


def test_large_dimensions_take_weighted_products_that_equal_the_packed_moments(monkeypatch):
    """Above a few hundred dimensions the moments come from one weighted product per resample instead of the
    packed outer products (too slow there); both are sum_j w_bj x_j x_j^T."""
    from bench.metrics import _resample

    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 24, generator=g, dtype=torch.float64)
    w = torch.randint(0, 3, (20, 300), generator=g).double()
    packed = torch.cat(list(_resample._moment_blocks(w, x)))
    monkeypatch.setattr(_resample, "_TEMP", 10)  # a block of outer products would hold < 64 rows
    weighted = torch.cat(list(_resample._moment_blocks(w, x)))
    expected = torch.einsum("bj,jd,je->bde", w, x, x)
    torch.testing.assert_close(packed, expected, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(weighted, expected, rtol=1e-12, atol=1e-10)
