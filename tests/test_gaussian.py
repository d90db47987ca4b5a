"""model=gaussian: the loop checked against the closed-form laws of a Gaussian refitted on its own samples.

A maximum-likelihood Gaussian refitted on n of its own samples each generation (replace) has
E[tr Σ_t] = tr Σ · ((n - 1)/n)^(t+1) (Shumailov et al. 2023) and a fitted mean that walks: Var(μ_t) grows by
E[tr Σ_{t-1}]/n per generation (Kazdan et al. 2024). With accumulate, the variance stays bounded away from 0.
The simulation (`bench.analysis.gaussian_laws`, also tabulated on docs/reproductions.md) runs the benchmark's own loop
over many seeds, on small "images" well inside [0, 255]; rounding to uint8 adds 1/12 per pixel per generation
and is part of the expected values. If these drift, the loop is wrong.
"""

import math

import pytest
import torch

from bench.analysis.gaussian_laws import SEEDS, SHAPE, SIGMA, TAU, D, N, T, expected_replace_variance, simulate
from bench.config import compose
from bench.models.gaussian import Gaussian


@pytest.fixture(scope="module")
def replace():
    return simulate("replace")


def test_replace_variance_shrinks_by_n_minus_1_over_n_per_generation(replace):
    variances, _ = replace
    for t, expected in enumerate(expected_replace_variance()):
        observed = variances[:, t]
        se = float(observed.std()) / math.sqrt(SEEDS)
        assert abs(float(observed.mean()) - expected) < 4 * se, (t, float(observed.mean()), expected, se)
    # and it does shrink: generation 5 holds ((n-1)/n)^5 = 0.51 of generation 0's variance
    ratio = float(variances[:, -1].mean() / variances[:, 0].mean())
    assert ratio == pytest.approx(((N - 1) / N) ** (T - 1), rel=0.1)


def test_replace_mean_walks_by_the_fitted_variance_over_n(replace):
    variances, means = replace
    expected, previous = 0.0, TAU
    for t in range(T):
        expected += (previous + (D / 12 if t else 0.0)) / N  # Var(μ_t) = Var(μ_{t-1}) + E[tr Σ_{t-1}] / n
        observed = float(means[:, t].var(dim=0).sum())
        # the spread of a variance estimate over SEEDS x D independent-ish values: about sqrt(2 / (SEEDS D))
        assert observed == pytest.approx(expected, rel=6 * math.sqrt(2 / (SEEDS * D))), (t, observed, expected)
        previous = float(variances[:, t].mean())
    assert float(means[:, -1].var(dim=0).sum()) > 3 * float(means[:, 0].var(dim=0).sum()), "the mean walks away"


def test_accumulate_keeps_the_variance_bounded(replace):
    variances, _ = simulate("accumulate")
    last = variances[:, -1]
    replaced = replace[0][:, -1]
    se = math.hypot(float(last.std()), float(replaced.std())) / math.sqrt(SEEDS)
    assert float(last.mean()) > float(replaced.mean()) + 8 * se
    # every generation keeps most of generation 0's variance (the real D_0 stays in the training set)
    assert float(last.mean()) > 0.8 * float(variances[:, 0].mean())


def test_sampling_is_seeded_and_temperature_scales_the_spread():
    g = torch.Generator().manual_seed(0)
    images = (128 + SIGMA * torch.randn(500, *SHAPE, generator=g)).round().to(torch.uint8)
    model = Gaussian(image_shape=SHAPE).fit_images(images)
    a = model.sample(2000, generator=torch.Generator().manual_seed(1))
    assert a.dtype == torch.uint8 and a.shape == (2000, *SHAPE)
    assert torch.equal(a, model.sample(2000, generator=torch.Generator().manual_seed(1)))
    cold = model.sample(2000, generator=torch.Generator().manual_seed(1), temperature=0.5)
    ratio = float(cold.double().reshape(2000, -1).var(0).sum() / a.double().reshape(2000, -1).var(0).sum())
    assert ratio == pytest.approx(0.25, rel=0.05)


def test_a_generation_of_the_real_loop_runs_in_seconds(tmp_path):
    from bench.engine.run import run

    cfg = compose(
        [
            "model=gaussian",
            "loop.generations=2",
            "data.n_train=500",
            "metrics.n_samples=200",
            "metrics.n_reference=400",
            "metrics.kid_subset_size=100",
            "metrics.kid_subsets=10",
            "trainer.enable_progress_bar=false",
            f"run_dir={tmp_path}",
        ]
    )
    results = run(cfg)
    assert results["status"] == "finished"
    (g0, g1) = results["generations"]
    assert g0["diagnostics"]["n_fit"] == 500 and g1["counts"]["synthetic"] == 500
    assert g1["diagnostics"]["total_variance"] < g0["diagnostics"]["total_variance"], "replace shrinks the fit"


def test_a_mixture_recovers_two_separated_clusters():
    g = torch.Generator().manual_seed(0)
    low = 60 + 5 * torch.randn(300, *SHAPE, generator=g)
    high = 190 + 5 * torch.randn(100, *SHAPE, generator=g)
    images = torch.cat([low, high]).round().to(torch.uint8)
    torch.manual_seed(0)  # EM's k-means++ start, as the run seeds it before building a model
    model = Gaussian(image_shape=SHAPE, components=2, reg=0.0).fit_images(images)
    order = model.means[:, 0].argsort()
    assert model.weights[order].tolist() == pytest.approx([0.75, 0.25], abs=1e-6)
    assert model.means[order].mean(1).tolist() == pytest.approx([60, 190], abs=1.5)
    samples = model.sample(4000, generator=torch.Generator().manual_seed(1)).double().reshape(4000, -1).mean(1)
    assert float((samples > 125).double().mean()) == pytest.approx(0.25, abs=0.03), "components drawn by weight"
    # one component is the closed form; its mixture summary equals it
    single = Gaussian(image_shape=SHAPE).fit_images(images)
    assert torch.allclose(single.cov, torch.cov(images.reshape(400, -1).double().T, correction=0))


def test_bad_mixture_settings_are_one_line_errors():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match=r"^model.components=0 must be a positive integer$"):
        Gaussian(image_shape=SHAPE, components=0)
    with pytest.raises(BenchError, match=r"^model.reg=-1 must be a number >= 0$"):
        Gaussian(image_shape=SHAPE, reg=-1)
