"""Memorisation of a generation's own training set D_t and the k-NN entropies (bench.metrics.own_data, .entropy),
against inputs with known answers."""

import math

import pytest
import torch

from bench.errors import BenchError
from bench.metric_info import METRIC_INFO
from bench.metrics.entropy import entropy_from_radii, knn_entropy, log_unit_ball_volume
from bench.metrics.memorization import memorization
from bench.metrics.own_data import own_data_metrics


def gaussian_entropy(cov: torch.Tensor) -> float:
    """0.5 log((2 pi e)^d det cov): the closed form."""
    d = cov.shape[0]
    return 0.5 * (d * math.log(2 * math.pi * math.e) + float(torch.logdet(cov.double())))


@pytest.mark.parametrize("d", [1, 3, 6])
def test_knn_entropy_of_a_gaussian_is_its_closed_form(d):
    # a random covariance with eigenvalues spread over a factor of 16; n = 4,000 points
    g = torch.Generator().manual_seed(d)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    cov = q @ torch.diag(torch.logspace(-1, math.log10(1.6), d, dtype=torch.float64)) @ q.T
    x = torch.randn(4000, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    est = knn_entropy(x)["entropy"]
    # the k = 1 estimator's standard error at n = 4,000 is about 0.02 d^0.5 nats here and its bias smaller; a
    # wrong volume term (a factor 2^d, the d/2 power) or a missing digamma term misses by far more than 0.1 d^0.5
    assert est == pytest.approx(gaussian_entropy(cov), abs=0.1 * math.sqrt(d))


def test_knn_entropy_of_the_uniform_unit_square_is_zero():
    x = torch.rand(4000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert knn_entropy(x)["entropy"] == pytest.approx(0.0, abs=0.06)


def test_knn_entropy_moves_exactly_with_scale_and_not_with_shift():
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    base = knn_entropy(x)["entropy"]
    assert knn_entropy(3.0 * x)["entropy"] == pytest.approx(base + 4 * math.log(3.0), abs=1e-9)
    assert knn_entropy(x + 7.0)["entropy"] == pytest.approx(base, abs=1e-9)


def test_unit_ball_volumes_are_the_known_ones():
    assert math.exp(log_unit_ball_volume(1)) == pytest.approx(2.0)
    assert math.exp(log_unit_ball_volume(2)) == pytest.approx(math.pi)
    assert math.exp(log_unit_ball_volume(3)) == pytest.approx(4 / 3 * math.pi)


def test_duplicates_are_counted_once_and_too_few_distinct_points_are_refused():
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    once = knn_entropy(x)
    twice = knn_entropy(torch.cat([x, x[:100]]))
    assert twice == once and once["n_distinct"] == 300
    # one distinct row has no estimate: null, so a generation collapsed onto one image is scored, not stopped
    assert knn_entropy(torch.ones(5, 3)) == {"entropy": None, "n_distinct": 1}
    with pytest.raises(BenchError, match="distinct points"):
        entropy_from_radii(torch.tensor([0.5, 0.0]), 3)


def test_a_training_set_of_copies_counts_each_image_once():
    # D_t holding every image twice (a synthetic D_t of a collapsing loop can): with the copies, each image's nearest
    # other image would be its twin at distance 0 and nothing could be memorised; counted once, exact copies and
    # near copies of D_t are memorised, and the entropy is read with its distinct count
    dt = torch.randn(500, 8, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    doubled = torch.cat([dt, dt])
    out = own_data_metrics(doubled, dt[:200])
    assert out["memorized_share_dt"] == 1.0
    near = dt[:200] + 1e-4 * torch.randn(200, 8, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    assert own_data_metrics(doubled, near)["memorized_share_dt"] == 1.0
    assert out["n_dt"] == 1000 and out["n_distinct_dt"] == 500 and out["n_distinct_gen"] == 200
    assert out["entropy_dt"] == own_data_metrics(dt, dt[:200])["entropy_dt"]
    assert memorization(doubled, dt[:50])["memorized_share"] == 1.0


def test_a_generation_collapsed_onto_one_image_is_scored_not_stopped():
    dt = torch.randn(300, 4, generator=torch.Generator().manual_seed(11))
    one = dt[:1].repeat(100, 1)  # every sample the same image of D_t
    out = own_data_metrics(dt, one)
    assert out["entropy_gen"] is None and out["n_distinct_gen"] == 1 and out["memorized_share_dt"] == 1.0
    # D_t collapsed onto one image: only its exact copies are memorised
    out = own_data_metrics(one, torch.cat([one[:10], one[:10] + 1.0]))
    assert out["entropy_dt"] is None and out["n_distinct_dt"] == 1 and out["memorized_share_dt"] == 0.5


def test_exact_copies_of_the_training_set_are_all_memorised():
    dt = torch.randn(1000, 8, generator=torch.Generator().manual_seed(3))
    copies = dt[torch.randperm(1000, generator=torch.Generator().manual_seed(4))[:400]]
    out = own_data_metrics(dt, copies)
    assert out["memorized_share_dt"] == 1.0
    assert out["nn_gen_dt_mean"] == 0.0 and out["nn_gen_dt_p95"] == 0.0
    assert out["n_dt"] == 1000


def test_images_far_from_the_training_set_are_not_memorised():
    dt = torch.randn(1000, 8, generator=torch.Generator().manual_seed(5))
    out = own_data_metrics(dt, dt[:300] + 100.0)
    assert out["memorized_share_dt"] == 0.0


def test_independent_draws_are_memorised_at_the_mutual_neighbour_rate():
    # g is memorised iff it and its nearest training point t are each other's nearest neighbours in D_t + {g}.
    # For a new draw from D_t's own distribution in one dimension that happens with probability 2/3 (the share of
    # points of a Poisson process whose nearest neighbour is mutual); boundary effects at n = 4,000 are ~1/n.
    g = torch.Generator().manual_seed(6)
    dt, gen = (
        torch.rand(4000, 1, generator=g, dtype=torch.float64),
        torch.rand(4000, 1, generator=g, dtype=torch.float64),
    )
    assert own_data_metrics(dt, gen)["memorized_share_dt"] == pytest.approx(2 / 3, abs=0.03)


def test_against_d0_the_own_data_share_is_the_memorisation_share():
    g = torch.Generator().manual_seed(7)
    d0, gen = torch.randn(800, 5, generator=g), torch.randn(600, 5, generator=g)
    own = own_data_metrics(d0, gen)
    mem = memorization(d0, gen)
    assert own["memorized_share_dt"] == mem["memorized_share"]
    assert own["nn_gen_dt_median"] == mem["nn_gen_train_median"]
    assert own["entropy_dt"] == knn_entropy(d0)["entropy"] and own["entropy_gen"] == knn_entropy(gen)["entropy"]


def test_a_collapsed_training_set_has_lower_entropy_and_the_registry_knows_every_key():
    g = torch.Generator().manual_seed(8)
    wide, narrow = torch.randn(2000, 4, generator=g), 0.2 * torch.randn(2000, 4, generator=g)
    gen = torch.randn(500, 4, generator=g)
    assert own_data_metrics(narrow, gen)["entropy_dt"] < own_data_metrics(wide, gen)["entropy_dt"] - 4 * math.log(4)
    for key in own_data_metrics(wide, gen):
        assert key in METRIC_INFO, key
    assert METRIC_INFO["memorized_share_dt"]["higher_is_better"] is False
    assert METRIC_INFO["entropy_dt"]["higher_is_better"] is True
