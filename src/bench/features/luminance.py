"""The feature space of colourised digits (data=tails): a grey-scale classifier on each image's brightness.

Brightness is the HSV value, max(R, G, B): a tails image is a digit's intensity times a colour whose
largest channel is 255, so the brightness of a real tails image is exactly the MNIST digit it was made
from, whatever its colour. The digit metrics then mean what they mean on MNIST, and colour is measured
apart (`bench.data.tails`).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.features.extractor import FeatureExtractor, frozen, load_extractor


class Brightness(nn.Module):
    def __init__(self, base: nn.Module):
        super().__init__()
        self.base = base

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.base.features_and_logits(x.amax(dim=1, keepdim=True))


def load_luminance(*, base: str = "mnist_classifier", channels: int = 3, **base_kwargs) -> FeatureExtractor:
    """`base` (a grey-scale reference classifier, loaded by `load_extractor`) on max(R, G, B)."""
    inner = load_extractor(base, **base_kwargs)
    assert inner.input_shape is not None and inner.input_shape[0] == 1, "the base classifier takes grey images"
    return frozen(
        name=f"{inner.name}@brightness",
        sha256=inner.sha256,
        model=Brightness(inner.model),
        feature_dim=inner.feature_dim,
        num_classes=inner.num_classes,
        input_shape=(int(channels), *inner.input_shape[1:]),
        trained_on=inner.trained_on,
        metadata={**inner.metadata, "applied_to": "brightness max(R, G, B) of each image"},
    )
