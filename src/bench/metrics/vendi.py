"""Vendi score (Friedman & Dieng 2023) with the cosine kernel.

Rows are L2-normalised (all-zero rows stay zero), K = X X^T / n, and
vendi = exp(-sum_i lambda_i ln lambda_i) over the eigenvalues of K normalised
to sum 1 (0 ln 0 = 0). X X^T / n and X^T X / n share their non-zero
eigenvalues, so we decompose whichever is smaller: O(n D min(n, D)) time, float64.
Ranges from 1 (all rows parallel) to min(n, D) (orthogonal rows).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import normalize

from bench.metrics._common import as_features, few_threads_call


@few_threads_call
def vendi(features: Tensor) -> float:
    x = normalize(as_features(features, "input").double(), dim=1)
    n, d = x.shape
    gram = (x @ x.T if n <= d else x.T @ x) / n
    eig = torch.linalg.eigvalsh(gram).clamp_min(0.0)
    total = float(eig.sum())
    if total == 0.0:  # only zero rows: no direction at all
        return 1.0
    p = eig[eig > 0] / total
    return math.exp(float(-(p * p.log()).sum()))
