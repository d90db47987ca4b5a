"""A detector of synthetic images: real (0) versus synthetic (1) in a data set's reference feature space.

The classifier is the C2ST metric's "quadratic" one (`bench.metrics.c2st.QuadraticLogistic`): logistic regression
on the standardised features and their squares, so it sees a change of spread as well as of location (a
generator's images are typically less varied than real ones). Fitted deterministically (LBFGS from zero).
"""

from __future__ import annotations

import torch

from bench.metrics.c2st import QuadraticLogistic

Detector = QuadraticLogistic


def train_detector(real: torch.Tensor, synthetic: torch.Tensor, *, l2: float = 1e-3, max_iter: int = 200) -> Detector:
    """Fit on features (N, D) of known real and known synthetic images (balanced by the caller or not)."""
    x = torch.cat([real, synthetic]).double()
    y = torch.cat([torch.zeros(len(real)), torch.ones(len(synthetic))]).double()
    return QuadraticLogistic.fit(x, y, l2=l2, max_iter=max_iter)
