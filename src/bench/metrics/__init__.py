"""Metrics on feature tensors (N, D) and integer labels; no models, no images.

Every function returns plain Python floats / dicts. See docs/metrics.md.
"""

from bench.metric_info import METRIC_INFO, info_for
from bench.metrics.bootstrap import bootstrap
from bench.metrics.c2st import c2st
from bench.metrics.entropy import knn_entropy
from bench.metrics.fid import fid
from bench.metrics.kid import kid
from bench.metrics.memorization import memorization, train_nn_distances
from bench.metrics.modes import mode_stats
from bench.metrics.own_data import own_data_metrics
from bench.metrics.prdc import density_coverage, prdc, precision_recall
from bench.metrics.reference import BOOTSTRAP_KEYS, RealReference, score
from bench.metrics.vendi import vendi

__all__ = [
    "BOOTSTRAP_KEYS",
    "METRIC_INFO",
    "RealReference",
    "bootstrap",
    "c2st",
    "density_coverage",
    "fid",
    "info_for",
    "kid",
    "knn_entropy",
    "memorization",
    "mode_stats",
    "own_data_metrics",
    "prdc",
    "precision_recall",
    "score",
    "train_nn_distances",
    "vendi",
]
