"""Small CNN classifiers for reference feature spaces other than MNIST's (digits, Fashion-MNIST, CIFAR-10, folders).

`SmallCNN` is sized from the data: input channels and size come from the images, two stride-2
convolutions halve the size twice (odd sizes round up), the penultimate fully connected layer is the
feature space. Like `MnistClassifier`, it takes uint8 images and scales them itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    """conv3x3 (w0) - conv3x3/2 (w1) - conv3x3/2 (w2) - fc `feature_dim` (features) - fc `num_classes`."""

    def __init__(
        self,
        *,
        input_shape: tuple[int, int, int] | list[int],
        num_classes: int,
        feature_dim: int = 128,
        widths: tuple[int, int, int] | list[int] = (32, 64, 64),
        dropout: float = 0.3,
    ):
        super().__init__()
        c, h, w = (int(v) for v in input_shape)
        w0, w1, w2 = (int(v) for v in widths)
        self.input_shape = (c, h, w)
        self.conv0 = nn.Conv2d(c, w0, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(w0)
        self.conv1 = nn.Conv2d(w0, w1, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w1)
        self.conv2 = nn.Conv2d(w1, w2, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(w2)
        h4, w4 = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
        self.fc1 = nn.Linear(w2 * h4 * w4, feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(feature_dim, num_classes)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """uint8 in [0, 255] -> [-1, 1]."""
        return x.to(torch.float32) / 127.5 - 1.0

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.preprocess(x)
        h = F.relu(self.bn0(self.conv0(h)))
        h = F.relu(self.bn1(self.conv1(h)))
        h = F.relu(self.bn2(self.conv2(h)))
        features = F.relu(self.fc1(h.flatten(1)))
        return features, self.fc2(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]
