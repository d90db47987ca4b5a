"""The closed-form collapse of a Gaussian refitted on its own samples, simulated through the benchmark's own loop.

A maximum-likelihood Gaussian refitted on n of its own samples each generation (replace) has
E[tr Σ_t] = tr Σ · ((n - 1)/n)^(t+1) (Shumailov et al. 2023) and a fitted mean that walks: Var(μ_t) grows by
E[tr Σ_{t-1}]/n per generation (Kazdan et al. 2024). With accumulate, the variance stays bounded away from 0, and
the fitted mean's squared error stays below π²/6 times that of a fit to real data alone (Dey & Donoho 2024: with
n samples a generation, the error after t + 1 fits is about tr Σ / n · sum_{k=1}^{t+1} 1/k²), where under replace
it grows with every generation.
The loop is the benchmark's own (`build(cfg.loop).training_set`), over many seeds, on small "images" well inside
[0, 255] so that clipping never bites; rounding to uint8 adds 1/12 per pixel per generation and is part of the
expected values. tests/test_gaussian.py checks these laws; `python -m bench.reproductions` tabulates them.
"""

from __future__ import annotations

import math

import torch

from bench.build import build
from bench.config import compose
from bench.loops import LoopContext
from bench.models.gaussian import Gaussian
from bench.seeding import generator

SHAPE = (1, 2, 2)
D = math.prod(SHAPE)  # 4 pixels
SIGMA = 20.0  # pixel standard deviation around 128: 6 sigma from 0 and 255
N = 8  # images per generation: the shrink factor is 7/8
T = 6
SEEDS = 400
TAU = D * (SIGMA**2 + 1 / 12)  # total variance of the rounded real pixels


def simulate(loop_name: str, *, seeds: int = SEEDS) -> tuple[torch.Tensor, torch.Tensor]:
    """(seeds, T) total variance of the fit and (seeds, T, D) fitted means, through the benchmark's loop."""
    cfg = compose(["model=gaussian", f"loop={loop_name}", f"data.n_train={N}", f"loop.generations={T}"])
    loop = build(cfg.loop)
    variances = torch.empty(seeds, T, dtype=torch.float64)
    means = torch.empty(seeds, T, D, dtype=torch.float64)
    for seed in range(seeds):
        g = torch.Generator().manual_seed(10_000 + seed)
        pool = (128 + SIGMA * torch.randn(4 * N, *SHAPE, generator=g)).round().clamp(0, 255).to(torch.uint8)
        store: dict[int, torch.Tensor] = {}
        ctx = LoopContext(
            seed=seed, initial=pool[:N], real_pool=pool, initial_index=torch.arange(N), synthetic=store.__getitem__
        )
        for t in range(T):
            model = Gaussian(image_shape=SHAPE).fit_images(loop.training_set(t, ctx).images)
            variances[seed, t] = model.cov.diagonal().sum()
            means[seed, t] = model.mean
            store[t] = model.sample(int(cfg.loop.synthetic_size), generator=generator(seed, "sample", t))
    return variances, means


def expected_replace_variance() -> list[float]:
    """E[tr Σ_t] under replace, t = 0..T-1, rounding included."""
    q = (N - 1) / N
    v = [q * TAU]
    for _ in range(1, T):
        v.append(q * (v[-1] + D / 12))  # each refit: the (n-1)/n shrink of the rounded samples' variance
    return v


def mean_errors(loop_name: str, *, seeds: int = SEEDS) -> torch.Tensor:
    """(seeds, T) squared error ||mu_t - mu||^2 of the fitted mean, mu = 128 in every pixel (the real mean)."""
    _, means = simulate(loop_name, seeds=seeds)
    return (means - 128.0).pow(2).sum(-1)


def expected_accumulate_error() -> list[float]:
    """E||mu_t - mu||^2 under accumulate, t = 0..T-1: tr Σ / n · sum_{k=1}^{t+1} 1/k² (Dey & Donoho 2024), the
    refits' rounding left out (it adds D/12 per synthetic image, under 0.03% of tr Σ here)."""
    return [TAU / N * sum(1 / k**2 for k in range(1, t + 2)) for t in range(T)]
