"""Feature spaces: a frozen network per data set whose features feed FID/KID/PRDC and whose classes count modes.

    from bench.features import load_extractor
    ex = load_extractor()                      # sha256-checked against bench/assets/mnist_classifier.json
    features, labels = ex.extract(images_uint8)  # (N, 128) float32, (N,) int64

Each data config names its extractor (`data.extractor`, built by `build_extractor`); `metrics.extractor`
may choose another (`extractors_for`): a standard one (inception, dinov2) or a trained classifier.
"""

from bench.features.extractor import NETWORKS, Extraction, FeatureExtractor, load_extractor, shipped
from bench.features.mnist_classifier import MnistClassifier
from bench.features.select import STANDARD, build_extractor, extractors_for

__all__ = [
    "NETWORKS",
    "STANDARD",
    "Extraction",
    "FeatureExtractor",
    "MnistClassifier",
    "build_extractor",
    "extractors_for",
    "load_extractor",
    "shipped",
]
