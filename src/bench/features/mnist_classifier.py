"""The reference MNIST classifier: a small LeNet-like CNN whose penultimate layer is the feature space.

Callers pass uint8 images (N, 1, 28, 28); the module scales them to [0, 1] and normalises with
the MNIST train mean/std itself, so every caller feeds the same thing the network was trained on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
INPUT_SHAPE = (1, 28, 28)
FEATURE_DIM = 128
NUM_CLASSES = 10


class MnistClassifier(nn.Module):
    """conv5x5/2 (32) - conv3x3/2 (64) - fc128 - fc10, with batch norm and dropout.

    Strided convolutions stand in for pooling: full-resolution 28x28x32 activations are the
    slow part on a small CPU, and the strided net extracts 10,000 images in well under a second.

    `forward(x_uint8)` returns logits; `features_and_logits(x_uint8)` returns the 128-d
    post-ReLU penultimate activations (the feature space) together with the logits.
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, num_classes: int = NUM_CLASSES, dropout: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, stride=2, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(feature_dim, num_classes)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """uint8 in [0, 255] -> normalised float32."""
        return (x.to(torch.float32) / 255.0 - MNIST_MEAN) / MNIST_STD

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.preprocess(x)
        h = F.relu(self.bn1(self.conv1(h)))  # 32 x 14 x 14
        h = F.relu(self.bn2(self.conv2(h)))  # 64 x 7 x 7
        features = F.relu(self.fc1(h.flatten(1)))  # penultimate layer, after the last hidden ReLU
        logits = self.fc2(self.dropout(features))
        return features, logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]
