"""Classifier two-sample test (Lopez-Paz & Oquab 2017).

1. Balance: draw n = min(N_real, N_gen) rows from each set (seeded permutation).
2. Split each set the same way: the first round(train_fraction * n) permuted
   rows train, the rest test, so train and test are both exactly balanced.
3. Standardise with the training mean/std and fit a classifier real(0) vs
   generated(1), deterministically (zero or seeded init, full batch):
   * "quadratic" (default): L2-regularised logistic regression (LBFGS, float64)
     on [z, z^2] (z = standardised features, expansion standardised again).
     The squares let it see a change of spread, e.g. a generator that keeps
     the mean but shrinks the variance (typical of model collapse), which a
     linear classifier cannot separate.
   * "logistic": the same on z alone (a linear classifier).
   * "mlp": one hidden ReLU layer, Adam, seeded init.
4. accuracy = share of held-out rows classified correctly (0.5 = indistinguishable).
   p_value = P(B >= correct) for B ~ Binomial(n_test, 1/2): the one-sided test
   of accuracy > 0.5, computed exactly (sum of lgamma-based log terms, no
   normal approximation). Under H0 the classifier is independent of the test
   labels, which are a balanced random split, so the binomial null is the
   usual approximation to the exact (hypergeometric) one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import binary_cross_entropy_with_logits

from bench.errors import BenchError
from bench.metrics._common import as_features, few_threads_call, same_dim

CLASSIFIERS = ("quadratic", "logistic", "mlp")


def binomial_sf_half(successes: int, trials: int) -> float:
    """Exact P(B >= successes) for B ~ Binomial(trials, 1/2)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    j = torch.arange(successes, trials + 1, dtype=torch.float64)
    log_terms = math.lgamma(trials + 1) - torch.lgamma(j + 1) - torch.lgamma(trials - j + 1) - trials * math.log(2.0)
    return min(1.0, float(torch.logsumexp(log_terms, dim=0).exp()))


def _location_scale(x: Tensor) -> tuple[Tensor, Tensor]:
    """Column means and standard deviations (1 where a column is constant)."""
    sd = x.std(dim=0)
    return x.mean(dim=0), torch.where(sd > 1e-12, sd, torch.ones_like(sd))


def _standardise(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    mu, sd = _location_scale(train)
    return (train - mu) / sd, (test - mu) / sd


def fit_logistic_weights(x: Tensor, y: Tensor, l2: float, max_iter: int) -> tuple[Tensor, Tensor]:
    """Weights and bias of L2-regularised logistic regression (LBFGS from zero, float64): deterministic."""
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = binary_cross_entropy_with_logits(x @ w + b, y) + 0.5 * l2 * w.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach(), b.detach()


@dataclass(frozen=True)
class QuadraticLogistic:
    """The "quadratic" classifier: logistic regression on the standardised features z and their squares (the
    expansion [z, z^2] standardised again), so it sees a change of spread as well as of location. Also the audit's
    real-vs-synthetic detector (`bench.engine.detector`). Fitted deterministically: LBFGS from zero, float64."""

    mean: Tensor
    std: Tensor
    mean2: Tensor
    std2: Tensor
    weight: Tensor
    bias: Tensor

    @classmethod
    def fit(cls, x: Tensor, y: Tensor, *, l2: float = 1e-3, max_iter: int = 200) -> QuadraticLogistic:
        """x (N, D) float64 features, y (N,) float64 labels in {0, 1}."""
        mean, std = _location_scale(x)
        z = (x - mean) / std
        x2 = torch.cat([z, z.square()], 1)
        mean2, std2 = _location_scale(x2)
        weight, bias = fit_logistic_weights((x2 - mean2) / std2, y, l2, max_iter)
        return cls(mean, std, mean2, std2, weight, bias)

    def logit(self, x: Tensor) -> Tensor:
        """log-odds of class 1 for each row of x."""
        z = (x.double() - self.mean) / self.std
        return ((torch.cat([z, z.square()], 1) - self.mean2) / self.std2) @ self.weight + self.bias

    def predict(self, x: Tensor) -> Tensor:
        """True where class 1 is the likelier (log-odds above 0)."""
        return self.logit(x) > 0


def _fit_logistic(x: Tensor, y: Tensor, l2: float, max_iter: int):
    w, b = fit_logistic_weights(x, y, l2, max_iter)
    return lambda z: z @ w + b


def _fit_mlp(x: Tensor, y: Tensor, l2: float, hidden: int, steps: int, generator: torch.Generator):
    d = x.shape[1]
    w1 = (torch.randn(d, hidden, generator=generator, dtype=torch.float64) / math.sqrt(d)).requires_grad_()
    b1 = torch.zeros(hidden, dtype=torch.float64, requires_grad=True)
    w2 = (torch.randn(hidden, generator=generator, dtype=torch.float64) / math.sqrt(hidden)).requires_grad_()
    b2 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    params = [w1, b1, w2, b2]
    opt = torch.optim.Adam(params, lr=1e-2)

    def logits(z):
        return torch.relu(z @ w1 + b1) @ w2 + b2

    for _ in range(steps):
        opt.zero_grad()
        loss = binary_cross_entropy_with_logits(logits(x), y) + 0.5 * l2 * (w1.square().sum() + w2.square().sum())
        loss.backward()
        opt.step()
    for p in params:
        p.requires_grad_(False)
    return logits


@few_threads_call
def c2st(
    real: Tensor,
    gen: Tensor,
    *,
    seed: int = 0,
    train_fraction: float = 0.5,
    classifier: str = "quadratic",
    l2: float = 1e-3,
    max_iter: int = 200,
    mlp_hidden: int = 64,
    mlp_steps: int = 300,
) -> dict:
    """dict(accuracy, p_value, n_test, n_train); see module docstring."""
    real = as_features(real, "real").double()
    gen = as_features(gen, "generated").double()
    same_dim(real, gen, "real", "generated")
    if classifier not in CLASSIFIERS:
        raise BenchError(f"metrics: c2st classifier must be one of {', '.join(CLASSIFIERS)}; got {classifier!r}")
    if not 0.0 < float(train_fraction) < 1.0:
        raise BenchError(f"metrics: c2st train_fraction must be in (0, 1), got {train_fraction}")
    n = min(real.shape[0], gen.shape[0])
    if n < 4:
        raise BenchError(
            f"metrics: c2st needs at least 4 samples in each set, got {real.shape[0]} real and {gen.shape[0]} generated"
        )
    g = torch.Generator().manual_seed(int(seed))
    real = real[torch.randperm(real.shape[0], generator=g)[:n]]
    gen = gen[torch.randperm(gen.shape[0], generator=g)[:n]]
    n_train = min(max(round(train_fraction * n), 2), n - 1)
    x_train = torch.cat([real[:n_train], gen[:n_train]])
    x_test = torch.cat([real[n_train:], gen[n_train:]])
    y_train = torch.cat([torch.zeros(n_train), torch.ones(n_train)]).double()
    y_test = torch.cat([torch.zeros(n - n_train), torch.ones(n - n_train)]).double()
    if classifier == "quadratic":
        predict = QuadraticLogistic.fit(x_train, y_train, l2=l2, max_iter=max_iter).logit
    else:
        x_train, x_test = _standardise(x_train, x_test)
        with torch.enable_grad():
            if classifier == "mlp":
                predict = _fit_mlp(x_train, y_train, l2, mlp_hidden, mlp_steps, g)
            else:
                predict = _fit_logistic(x_train, y_train, l2, max_iter)
    with torch.no_grad():
        correct = int(((predict(x_test) > 0).double() == y_test).sum())
    n_test = int(y_test.shape[0])
    return {
        "accuracy": correct / n_test,
        "p_value": binomial_sf_half(correct, n_test),
        "n_test": n_test,
        "n_train": 2 * n_train,
    }
