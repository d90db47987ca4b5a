"""The reference feature space: a small MNIST classifier trained by scripts/train_reference.py.

    from bench.features import load_extractor
    ex = load_extractor()                      # sha256-checked against bench/assets/mnist_classifier.json
    features, labels = ex.extract(images_uint8)  # (N, 128) float32, (N,) int64

Features (the 128-d post-ReLU penultimate layer) feed FID/KID/precision/recall; labels (the
argmax class) feed mode coverage.
"""

from bench.features.extractor import EXTRACTORS, Extraction, FeatureExtractor, load_extractor
from bench.features.mnist_classifier import MnistClassifier

__all__ = ["EXTRACTORS", "Extraction", "FeatureExtractor", "MnistClassifier", "load_extractor"]
