"""RealReference caching / persistence, score(), bootstrap() and METRIC_INFO."""

import math

import pytest
import torch

from bench.errors import BenchError
from bench.metrics import (
    BOOTSTRAP_KEYS,
    METRIC_INFO,
    RealReference,
    bootstrap,
    c2st,
    fid,
    info_for,
    kid,
    memorization,
    mode_stats,
    prdc,
    precision_recall,
    score,
    vendi,
)
from bench.metrics._common import knn_radii


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(600, 16, generator=g)
    real_labels = torch.randint(0, 10, (600,), generator=g)
    gen = 0.8 * torch.randn(400, 16, generator=g) + 0.1
    gen_labels = torch.randint(0, 7, (400,), generator=g)  # classes 7, 8, 9 dropped
    train = torch.randn(500, 16, generator=g)
    return real, real_labels, gen, gen_labels, train


@pytest.fixture(scope="module")
def ref(data):
    real, real_labels, *_ = data
    return RealReference.from_features(real, real_labels, num_classes=10)


KW = dict(kid_subset_size=200, kid_subsets=10, seed=3)


def test_reference_caches_the_right_statistics(data, ref):
    real, real_labels, *_ = data
    assert torch.allclose(ref.mean, real.double().mean(0), atol=1e-12)
    assert torch.allclose(ref.cov, torch.cov(real.double().T), atol=1e-12)
    assert ref.class_counts.tolist() == torch.bincount(real_labels, minlength=10).tolist()
    assert (ref.k_pr, ref.k_dc, ref.n, ref.dim) == (3, 5, 600, 16)


def test_score_equals_the_individual_metrics(data, ref):
    real, real_labels, gen, gen_labels, train = data
    out = score(ref, gen, gen_labels, train_feats=train, **KW)
    assert out["fid"] == pytest.approx(fid(real, gen), rel=1e-12)
    for key, value in prdc(real, gen, k_pr=3, k_dc=5).items():
        assert out[key] == value
    assert (out["kid_mean"], out["kid_std"]) == kid(real, gen, subset_size=200, subsets=10, seed=3)
    c = c2st(real, gen, seed=3)
    assert (out["c2st_accuracy"], out["c2st_p_value"], out["c2st_n_test"]) == (c["accuracy"], c["p_value"], c["n_test"])
    ms = mode_stats(gen_labels, real_labels, 10)
    for key, value in ms.items():
        assert out[key] == value
    assert out["classes_covered"] == 7 and out["min_class_share"] == 0.0
    for key, value in memorization(train, gen).items():
        assert out[key] == value
    assert out["vendi"] == vendi(gen)
    assert (out["n_gen"], out["n_real"], out["n_train"]) == (400, 600, 500)


def test_every_score_key_is_documented(data, ref):
    *_, gen, gen_labels, train = data
    out = score(ref, gen, gen_labels, train_feats=train, bootstrap=2, **KW)
    for key in out:
        info = info_for(key)
        assert info is not None, key
        assert set(info) == {"higher_is_better", "definition", "citation"}
        assert info["higher_is_better"] in (True, False, None)
    assert METRIC_INFO["fid"]["higher_is_better"] is False and METRIC_INFO["recall"]["higher_is_better"] is True


def test_score_without_labels_or_train_omits_those_keys(data, ref):
    *_, gen, _, _ = data
    out = score(ref, gen, **KW)
    assert "kl_gen_real" not in out and "memorized_share" not in out
    assert {"fid", "kid_mean", "precision", "coverage", "vendi", "c2st_accuracy"} <= set(out)


def test_save_load_round_trip_gives_identical_scores(data, ref, tmp_path):
    *_, gen, gen_labels, train = data
    path = tmp_path / "ref.pt"
    ref.save(path)
    raw = torch.load(path, weights_only=True)  # plain tensors / ints / strings only
    assert isinstance(raw, dict) and raw["format"] == "bench.metrics.RealReference"
    loaded = RealReference.load(path)
    for field in ("features", "mean", "cov", "radii_pr", "radii_dc", "labels", "class_counts"):
        assert torch.equal(getattr(loaded, field), getattr(ref, field)), field
    assert score(loaded, gen, gen_labels, train_feats=train, **KW) == score(
        ref, gen, gen_labels, train_feats=train, **KW
    )


def test_load_rejects_foreign_files(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(BenchError, match="not a saved RealReference"):
        RealReference.load(tmp_path / "other.pt")
    with pytest.raises(BenchError, match="no RealReference file"):
        RealReference.load(tmp_path / "missing.pt")
    torch.save({"obj": torch.nn.Linear(2, 2)}, tmp_path / "pickled.pt")  # needs unpickling of a class
    with pytest.raises(BenchError, match="cannot load"):
        RealReference.load(tmp_path / "pickled.pt")


def test_score_bootstrap_intervals(data, ref):
    *_, gen, gen_labels, train = data
    a = score(ref, gen, gen_labels, train_feats=train, bootstrap=12, **KW)
    b = score(ref, gen, gen_labels, train_feats=train, bootstrap=12, **KW)
    assert a == b
    for key in BOOTSTRAP_KEYS:
        assert a[f"{key}_ci_low"] <= a[f"{key}_ci_high"], key
    # per-sample averages: the interval brackets the point estimate and has a real width
    for key in ("precision", "density", "tv"):
        assert a[f"{key}_ci_low"] < a[key] < a[f"{key}_ci_high"], key
    assert "kid_mean_ci_low" not in a and "c2st_accuracy_ci_low" not in a
    # the point estimates do not depend on bootstrapping
    plain = score(ref, gen, gen_labels, train_feats=train, **KW)
    assert {k: v for k, v in a.items() if "_ci_" not in k} == plain


def test_bootstrap_of_a_mean_matches_its_standard_error():
    g = torch.Generator().manual_seed(1)
    real, gen = torch.randn(50, 2, generator=g), torch.randn(400, 2, generator=g)
    mean0 = lambda r, q: float(q[:, 0].mean())
    out = bootstrap(mean0, real, gen, n=400, seed=0)
    se = float(gen[:, 0].std()) / math.sqrt(400)
    assert out["std"] == pytest.approx(se, rel=0.15)
    assert out["low"] < mean0(real, gen) < out["high"]
    assert out["high"] - out["low"] == pytest.approx(2 * 1.96 * se, rel=0.2)
    # resampling only the real rows leaves a gen-only statistic unchanged
    fixed = bootstrap(mean0, real, gen, n=10, seed=0, resample="real")
    assert fixed["std"] == 0.0 and fixed["low"] == fixed["high"] == pytest.approx(mean0(real, gen))


def test_bootstrap_precision_is_reproducible_and_brackets_estimate():
    g = torch.Generator().manual_seed(2)
    real, gen = torch.randn(300, 8, generator=g), 1.4 * torch.randn(300, 8, generator=g)
    radii = knn_radii(real, [3])[3]
    prec = lambda r, q: precision_recall(r, q, real_radii=radii)["precision"]
    a = bootstrap(prec, real, gen, n=20, seed=7)
    assert a == bootstrap(prec, real, gen, n=20, seed=7)
    assert a != bootstrap(prec, real, gen, n=20, seed=8)
    assert a["low"] <= prec(real, gen) <= a["high"] and a["std"] > 0


def test_score_input_errors(data, ref):
    *_, gen, gen_labels, _ = data
    with pytest.raises(BenchError, match="needs at least 1000 generated samples, got 400"):
        score(ref, gen, gen_labels, kid_subset_size=1000)
    with pytest.raises(BenchError, match="dimensions"):
        score(ref, torch.randn(400, 8), **KW)
    with pytest.raises(BenchError, match="labels"):
        score(ref, gen, gen_labels[:10], **KW)
    with pytest.raises(BenchError, match="num_classes"):
        RealReference.from_features(torch.randn(20, 3), torch.zeros(20, dtype=torch.long))
