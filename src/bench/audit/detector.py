"""A detector of synthetic images: real (0) versus synthetic (1) in a data set's reference feature space.

The classifier is the one the C2ST metric fits (`bench.metrics.c2st`): L2-regularised logistic regression in
float64 on the standardised features and their squares, so it sees a change of spread as well as of location
(a generator's images are typically less varied than real ones). Fitted deterministically (LBFGS from zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.metrics.c2st import fit_logistic_weights


@dataclass(frozen=True)
class Detector:
    mean: torch.Tensor  # standardisation of the features
    std: torch.Tensor
    mean2: torch.Tensor  # standardisation of [z, z^2]
    std2: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def logit(self, features: torch.Tensor) -> torch.Tensor:
        """log-odds that each row is synthetic."""
        z = (features.double() - self.mean) / self.std
        x = (torch.cat([z, z.square()], 1) - self.mean2) / self.std2
        return x @ self.weight + self.bias

    def flags(self, features: torch.Tensor) -> torch.Tensor:
        """True where the detector calls a row synthetic (probability above one half)."""
        return self.logit(features) > 0


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    sd = x.std(dim=0)
    return x.mean(dim=0), torch.where(sd > 1e-12, sd, torch.ones_like(sd))


def train_detector(real: torch.Tensor, synthetic: torch.Tensor, *, l2: float = 1e-3, max_iter: int = 200) -> Detector:
    """Fit on features (N, D) of known real and known synthetic images (balanced by the caller or not)."""
    x = torch.cat([real, synthetic]).double()
    y = torch.cat([torch.zeros(len(real)), torch.ones(len(synthetic))]).double()
    mean, std = _stats(x)
    z = (x - mean) / std
    x2 = torch.cat([z, z.square()], 1)
    mean2, std2 = _stats(x2)
    w, b = fit_logistic_weights((x2 - mean2) / std2, y, l2, max_iter)
    return Detector(mean, std, mean2, std2, w, b)
