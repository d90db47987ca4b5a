"""Class statistics, Vendi, C2ST and memorisation against their definitions."""

import math

import pytest
import torch

from bench.errors import BenchError
from bench.metrics import c2st, memorization, mode_stats, train_nn_distances, vendi
from bench.metrics.c2st import binomial_sf_half


def balanced(n_per_class=50, num_classes=10):
    return torch.arange(num_classes).repeat_interleave(n_per_class)


# ---- mode_stats -------------------------------------------------------------------------------


def test_one_class_generator_against_balanced_real():
    out = mode_stats(torch.full((200,), 3), balanced(), 10)
    assert out["kl_gen_real"] == pytest.approx(math.log(10), abs=1e-12)
    assert out["tv"] == pytest.approx(0.9, abs=1e-12)
    assert out["classes_covered"] == 1
    assert out["min_class_share"] == 0.0
    assert out["class_shares"] == [0.0] * 3 + [1.0] + [0.0] * 6


def test_matching_histograms():
    out = mode_stats(balanced(7), balanced(50), 10)
    assert out["kl_gen_real"] == pytest.approx(0.0, abs=1e-12)
    assert out["tv"] == pytest.approx(0.0, abs=1e-12)
    assert out["classes_covered"] == 10
    assert out["min_class_share"] == pytest.approx(0.1)


def test_classes_covered_threshold_is_relative_to_real_share():
    real = balanced(100)  # every real share 0.1, so the threshold is a generated share of 0.01
    just_enough = torch.cat([torch.zeros(10, dtype=torch.long), torch.ones(990, dtype=torch.long)])  # 1.0%
    too_few = torch.cat([torch.zeros(9, dtype=torch.long), torch.ones(991, dtype=torch.long)])  # 0.9%
    assert mode_stats(just_enough, real, 10)["classes_covered"] == 2
    assert mode_stats(too_few, real, 10)["classes_covered"] == 1
    assert mode_stats(too_few, real, 10, min_relative_share=0.05)["classes_covered"] == 2


def test_kl_two_classes_by_hand():
    gen = torch.tensor([0, 0, 0, 1])  # p_gen = (3/4, 1/4)
    real = torch.tensor([0, 1])  # p_real = (1/2, 1/2)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    out = mode_stats(gen, real, 2)
    assert out["kl_gen_real"] == pytest.approx(expected, abs=1e-14)
    assert out["tv"] == pytest.approx(0.25, abs=1e-14)


def test_class_missing_from_real_gives_infinite_kl_and_bad_labels_raise():
    assert mode_stats(torch.tensor([0, 2]), torch.tensor([0, 1]), 3)["kl_gen_real"] == math.inf
    with pytest.raises(BenchError, match=r"\[0, 9\]"):
        mode_stats(torch.tensor([0, 10]), balanced(), 10)
    with pytest.raises(BenchError, match="integer"):
        mode_stats(torch.tensor([0.0, 1.0]), balanced(), 10)


# ---- vendi --------------------------------------------------------------------------------------


def test_vendi_orthonormal_and_identical():
    assert vendi(torch.eye(8)) == pytest.approx(8.0, rel=1e-12)
    q, _ = torch.linalg.qr(torch.randn(32, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    lengths = torch.tensor([1.0, 2.0, 0.5, 7.0, 3.0], dtype=torch.float64)[:, None]
    assert vendi(q.T * lengths) == pytest.approx(5.0, rel=1e-10)  # rows are normalised first
    assert vendi(torch.ones(100, 16) * torch.arange(1, 17)) == pytest.approx(1.0, rel=1e-10)


def test_vendi_groups_and_covariance_route():
    # 3 orthogonal directions, 40 copies each -> effective number 3, through the D x D route (n > D)
    x = torch.eye(3).repeat_interleave(40, dim=0)
    assert vendi(x) == pytest.approx(3.0, rel=1e-10)
    # general data: the D x D route equals the n x n definition
    y = torch.randn(120, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.5
    yn = y / y.norm(dim=1, keepdim=True)
    lam = torch.linalg.eigvalsh(yn @ yn.T / 120).clamp_min(0)
    lam = lam[lam > 1e-15] / lam.sum()
    assert vendi(y) == pytest.approx(math.exp(float(-(lam * lam.log()).sum())), rel=1e-9)


# ---- c2st ---------------------------------------------------------------------------------------


def test_binomial_tail_is_exact():
    for n in (1, 7, 20):
        for k in range(n + 2):
            expected = sum(math.comb(n, j) for j in range(k, n + 1)) / 2**n
            assert binomial_sf_half(k, n) == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_c2st_same_distribution_is_chance():
    g = torch.Generator().manual_seed(0)
    real, gen = torch.randn(1500, 16, generator=g), torch.randn(1000, 16, generator=g)
    out = c2st(real, gen, seed=0)
    assert out["n_test"] == 1000 and out["n_train"] == 1000
    assert abs(out["accuracy"] - 0.5) < 0.05
    assert out["p_value"] > 0.01


def test_c2st_separated_sets_are_found():
    g = torch.Generator().manual_seed(1)
    real, gen = torch.randn(1000, 16, generator=g), torch.randn(1000, 16, generator=g)
    gen[:, 0] += 6.0
    out = c2st(real, gen)
    assert out["accuracy"] > 0.98
    assert out["p_value"] < 1e-100


def test_c2st_quadratic_sees_variance_collapse_linear_does_not():
    g = torch.Generator().manual_seed(2)
    real, gen = torch.randn(1000, 16, generator=g), 0.5 * torch.randn(1000, 16, generator=g)
    assert c2st(real, gen, classifier="quadratic")["accuracy"] > 0.9
    assert abs(c2st(real, gen, classifier="logistic")["accuracy"] - 0.5) < 0.06


def test_c2st_is_seeded():
    g = torch.Generator().manual_seed(3)
    real, gen = torch.randn(600, 8, generator=g), torch.randn(500, 8, generator=g) + 0.1
    assert c2st(real, gen, seed=5) == c2st(real, gen, seed=5)
    with pytest.raises(BenchError, match="classifier"):
        c2st(real, gen, classifier="svm")


# ---- memorization -------------------------------------------------------------------------------


def test_memorization_by_hand_on_a_line():
    train = torch.tensor([[0.0], [1.0], [3.0]])  # nearest-other distances 1, 1, 2
    gen = torch.tensor([[0.4], [2.2], [10.0], [-1.0]])
    # 0.4 -> 0 at 0.4 < 1 (memorised); 2.2 -> 3 at 0.8 < 2 (memorised); 10 -> 3 at 7; -1 -> 0 at exactly 1 (not <)
    out = memorization(train, gen)
    assert out["memorized_share"] == 0.5 and out["authenticity"] == 0.5
    assert out["nn_gen_train_mean"] == pytest.approx((0.4 + 0.8 + 7 + 1) / 4, rel=1e-6)
    assert out["nn_gen_train_median"] == pytest.approx(0.9, rel=1e-6)
    assert out["nn_train_train_mean"] == pytest.approx(4 / 3, rel=1e-6)
    assert out["nn_train_train_median"] == pytest.approx(1.0)


def test_copies_are_memorised_far_samples_are_not():
    g = torch.Generator().manual_seed(4)
    train = torch.randn(500, 16, generator=g)
    copies = train[torch.randperm(500, generator=g)[:200]].clone()
    assert memorization(train, copies)["memorized_share"] == 1.0
    assert memorization(train, copies)["nn_gen_train_p95"] == 0.0
    far = torch.randn(200, 16, generator=g) + 50.0
    assert memorization(train, far)["memorized_share"] == 0.0
    # half copies, half fresh draws from the same distribution: fresh draws are rarely that close
    fresh = torch.randn(200, 16, generator=g)
    share = memorization(train, torch.cat([copies, fresh]))["memorized_share"]
    assert 0.5 <= share < 0.65


def test_memorization_chunked_equals_unchunked_and_cached_train_nn():
    g = torch.Generator().manual_seed(5)
    train, gen = torch.randn(800, 24, generator=g), torch.randn(600, 24, generator=g) * 0.8
    full = memorization(train, gen, chunk_size=10_000)
    for chunk in (33, 512):
        assert memorization(train, gen, chunk_size=chunk) == full
    assert memorization(train[:50], gen[:30], chunk_size=1) == memorization(train[:50], gen[:30], chunk_size=64)
    assert memorization(train, gen, train_nn=train_nn_distances(train, chunk_size=7)) == full
    assert 0.0 < full["memorized_share"] < 1.0
