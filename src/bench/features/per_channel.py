"""The feature space of Stacked MNIST: the MNIST classifier on each colour channel, 3 digits -> 1000 modes.

Features are the three channels' 128-d features concatenated (384-d): FID, KID and PRDC then compare
the joint distribution of the three digits' appearances, and a generator that got each channel's
marginal right but their combinations wrong is still caught by the class (mode) metrics. The class of
an image is 100 * digit(R) + 10 * digit(G) + digit(B); its logits are the sums of the channels'
log-probabilities, so their argmax is the three channel argmaxes (the VEEGAN / PacGAN protocol).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.features.extractor import FeatureExtractor, frozen, load_extractor


class PerChannel(nn.Module):
    def __init__(self, base: nn.Module, channels: int):
        super().__init__()
        self.base = base
        self.channels = channels

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c = x.shape[:2]
        f, z = self.base.features_and_logits(x.reshape(n * c, 1, *x.shape[2:]))
        f = f.reshape(n, c * f.shape[1])
        logp = torch.log_softmax(z.float(), dim=1).reshape(n, c, -1)
        k = logp.shape[2]
        joint = logp[:, 0]
        for i in range(1, c):  # most significant channel first: class = sum_i digit_i * k^(c-1-i)
            joint = (joint[:, :, None] + logp[:, i][:, None, :]).reshape(n, -1)
        assert joint.shape[1] == k**c
        return f, joint


def load_per_channel(*, base: str = "mnist_classifier", channels: int = 3, **base_kwargs) -> FeatureExtractor:
    inner = load_extractor(base, **base_kwargs)
    assert inner.input_shape is not None and inner.input_shape[0] == 1, "the base classifier takes grey images"
    assert inner.num_classes is not None, "the base classifier must have classes"
    channels = int(channels)
    return frozen(
        name=f"{inner.name}@per_channel",
        sha256=inner.sha256,
        model=PerChannel(inner.model, channels),
        feature_dim=inner.feature_dim * channels,
        num_classes=inner.num_classes**channels,
        input_shape=(channels, *inner.input_shape[1:]),
        trained_on=inner.trained_on,
        metadata={
            **inner.metadata,
            "feature_dim": inner.feature_dim * channels,
            "applied_to": f"each of {channels} channels; features concatenated, classes combined",
        },
    )
