"""FID and KID against closed forms, torchmetrics, and their contracts."""

import math

import pytest
import torch

from bench.errors import BenchError
from bench.metrics import fid, kid
from bench.metrics.fid import gaussian_moments
from bench.metrics.kid import kid_values


def with_moments(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    """n samples whose sample mean and unbiased sample covariance are exactly `mean` and `cov` (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, mean.shape[0], generator=g, dtype=torch.float64)
    x = x - x.mean(0)
    white = x @ torch.linalg.inv(torch.linalg.cholesky(x.T @ x / (n - 1))).T
    return white @ torch.linalg.cholesky(cov).T + mean


def test_with_moments_helper_is_exact():
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    x = with_moments(50, torch.tensor([1.0, -2.0], dtype=torch.float64), cov, 0)
    mu, c = gaussian_moments(x)
    assert torch.allclose(mu, torch.tensor([1.0, -2.0], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(c, cov, atol=1e-12)


def test_fid_identical_sets_is_zero():
    x = torch.randn(500, 32, generator=torch.Generator().manual_seed(1))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)
    assert fid(x, x.clone()[torch.randperm(500)]) == pytest.approx(0.0, abs=1e-6)


def test_fid_one_dimension_by_hand():
    # N(0, 1) vs N(3, 4): 3^2 + 1 + 4 - 2 * sqrt(1 * 4) = 10
    a = with_moments(200, torch.zeros(1, dtype=torch.float64), torch.eye(1, dtype=torch.float64), 2)
    b = with_moments(300, torch.full((1,), 3.0, dtype=torch.float64), 4 * torch.eye(1, dtype=torch.float64), 3)
    assert fid(a, b) == pytest.approx(10.0, rel=1e-10)


def test_fid_diagonal_gaussians_closed_form():
    d = 6
    m1, m2 = torch.arange(d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)
    v1 = torch.linspace(0.5, 3.0, d, dtype=torch.float64)
    v2 = torch.linspace(2.0, 0.1, d, dtype=torch.float64)
    expected = float((m1 - m2).square().sum() + (v1 + v2 - 2 * (v1 * v2).sqrt()).sum())
    got = fid(with_moments(400, m1, torch.diag(v1), 4), with_moments(300, m2, torch.diag(v2), 5))
    assert got == pytest.approx(expected, rel=1e-9)


def test_fid_full_covariance_closed_form():
    d = 5
    g = torch.Generator().manual_seed(6)
    a1, a2 = torch.randn(d, d, generator=g, dtype=torch.float64), torch.randn(d, d, generator=g, dtype=torch.float64)
    s1, s2 = a1 @ a1.T + 0.1 * torch.eye(d, dtype=torch.float64), a2 @ a2.T + 0.1 * torch.eye(d, dtype=torch.float64)
    m1, m2 = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    # Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2), computed with symmetric eigendecompositions only
    w, v = torch.linalg.eigh(s1)
    r1 = v @ torch.diag(w.sqrt()) @ v.T
    cross = torch.linalg.eigvalsh(r1 @ s2 @ r1).clamp_min(0).sqrt().sum()
    expected = float((m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * cross)
    assert fid(with_moments(100, m1, s1, 7), with_moments(80, m2, s2, 8)) == pytest.approx(expected, rel=1e-8)


def test_fid_matches_torchmetrics_class():
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(torch.nn.Module):
        num_features = 8

        def forward(self, x):
            return x

    g = torch.Generator().manual_seed(9)
    real = torch.randn(400, 8, generator=g, dtype=torch.float64)
    gen = 1.5 * torch.randn(300, 8, generator=g, dtype=torch.float64) + 0.3
    m = FrechetInceptionDistance(feature=Identity())
    m.set_dtype(torch.float64)
    m.update(real, real=True)
    m.update(gen, real=False)
    assert fid(real, gen) == pytest.approx(float(m.compute()), rel=1e-8)


def test_fid_rejects_nan_and_dimension_mismatch():
    x = torch.randn(10, 3)
    with pytest.raises(BenchError, match="NaN"):
        fid(x, torch.full((10, 3), float("nan")))
    with pytest.raises(BenchError, match="dimensions"):
        fid(x, torch.randn(10, 4))


def _draws(seed, shift=0.0, n=1500, d=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) + shift


def test_kid_near_zero_for_same_distribution_and_positive_for_shifted():
    real, same, shifted = _draws(0), _draws(1), _draws(2, shift=0.5)
    m_same, s_same = kid(real, same, subset_size=500, subsets=20)
    m_shift, _ = kid(real, shifted, subset_size=500, subsets=20)
    assert abs(m_same) < 0.01
    assert m_shift > 0.5
    assert m_shift > 20 * max(abs(m_same), s_same)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_matches_torchmetrics_with_same_seed():
    from torchmetrics.image.kid import KernelInceptionDistance

    class Identity(torch.nn.Module):
        num_features = 16

        def forward(self, x):
            return x

    real, gen = _draws(3, n=300).double(), _draws(4, shift=0.2, n=250).double()
    m = KernelInceptionDistance(feature=Identity(), subsets=7, subset_size=100)
    m.update(real, real=True)
    m.update(gen, real=False)
    torch.manual_seed(11)
    tm_mean, tm_std = m.compute()
    for method in ("subsets", "full"):
        mean, std = kid(real, gen, subset_size=100, subsets=7, seed=11, method=method)
        assert mean == pytest.approx(float(tm_mean), rel=1e-9)
        assert std == pytest.approx(float(tm_std), rel=1e-9)


def test_kid_full_and_subset_routes_agree():
    real, gen = _draws(5, n=700), _draws(6, shift=0.1, n=600)
    a = kid_values(real, gen, subset_size=200, subsets=9, seed=4, method="full", chunk_size=64)
    b = kid_values(real, gen, subset_size=200, subsets=9, seed=4, method="subsets")
    assert torch.allclose(a, b, rtol=0, atol=1e-11)
    assert a.std() > 0  # the rounds really differ


def test_kid_is_seeded_and_leaves_global_rng_alone():
    real, gen = _draws(7, n=400), _draws(8, n=400)
    state = torch.get_rng_state()
    a = kid(real, gen, subset_size=100, subsets=5, seed=1)
    assert torch.equal(state, torch.get_rng_state())
    assert kid(real, gen, subset_size=100, subsets=5, seed=1) == a
    assert kid(real, gen, subset_size=100, subsets=5, generator=torch.Generator().manual_seed(1)) == a
    assert kid(real, gen, subset_size=100, subsets=5, seed=2) != a


def test_kid_too_few_samples_names_the_numbers():
    with pytest.raises(
        BenchError, match=r"metrics.kid_subset_size=1000 needs at least 1000 generated samples, got 500"
    ):
        kid(_draws(0, n=1200), _draws(1, n=500), subset_size=1000)
    with pytest.raises(BenchError, match=r"needs at least 300 real samples, got 200"):
        kid(_draws(0, n=200), _draws(1, n=500), subset_size=300)


def test_kid_polynomial_kernel_single_subset_by_hand():
    # with subset_size == n every round uses all points: check against the textbook unbiased MMD^2
    x, y = _draws(9, n=40, d=3).double(), _draws(10, shift=0.3, n=40, d=3).double()
    k = lambda a, b: (a @ b.T / 3 + 1) ** 3
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = 40
    expected = float((kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.mean())
    mean, std = kid(x, y, subset_size=40, subsets=3)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)
    assert not math.isnan(std)
