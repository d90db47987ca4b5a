"""data=stacked_mnist: 1000 modes counted by classifying each channel, KL to uniform, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from bench.data import stacked_mnist as stacked_module
from bench.data.stacked_mnist import ModeMeasure, kl_to_uniform, load_stacked_mnist, mode_counts
from bench.features.per_channel import load_per_channel
from conftest import use_small_mnist


def test_kl_to_uniform_against_the_formula():
    assert kl_to_uniform(torch.ones(1000)) == pytest.approx(0.0, abs=1e-12)
    one = torch.zeros(1000)
    one[7] = 5
    assert kl_to_uniform(one) == pytest.approx(math.log(1000))
    half = torch.zeros(1000)
    half[:500] = 1
    assert kl_to_uniform(half) == pytest.approx(math.log(2))


@pytest.fixture(scope="module")
def clean_digits(mnist):
    """Per class, test digits the MNIST classifier classifies correctly (so their modes are known)."""
    from bench.features import load_extractor

    x, y = mnist.test_images[:2000], mnist.test_labels[:2000]
    ok = load_extractor().extract(x)[1] == y
    return {d: x[ok & (y == d)][:5] for d in range(10)}


def test_modes_of_constructed_images_are_counted_exactly(clean_digits):
    extractor = load_per_channel()
    assert extractor.input_shape == (3, 28, 28) and extractor.num_classes == 1000 and extractor.feature_dim == 384
    modes = [0, 7, 123, 999, 450, 450, 450, 7]  # 5 distinct modes
    images = torch.stack([torch.cat([clean_digits[int(d)][i % 5] for d in f"{m:03d}"]) for i, m in enumerate(modes)])
    features, labels = extractor.extract(images)
    assert labels.tolist() == modes
    assert features.shape == (8, 384)
    out = ModeMeasure()(images, labels)
    assert out["modes_covered"] == 5
    p = torch.tensor([1, 2, 1, 1, 3], dtype=torch.float64) / 8
    assert out["kl_uniform"] == pytest.approx(float((p * (p * 1000).log()).sum()))
    assert mode_counts(labels).sum() == 8


def test_channel_features_are_the_mnist_features_concatenated(clean_digits):
    from bench.features import load_extractor

    base, stacked = load_extractor(), load_per_channel()
    x = torch.stack([torch.cat([clean_digits[1][0], clean_digits[2][0], clean_digits[3][0]])])
    f = stacked.extract(x)[0]
    expected = torch.cat([base.extract(x[:, c : c + 1])[0] for c in range(3)], dim=1)
    torch.testing.assert_close(f, expected)


@pytest.fixture
def small_mnist(monkeypatch, mnist):
    return use_small_mnist(monkeypatch, stacked_module, mnist, 500, 300)


def test_stacked_mnist_is_deterministic_and_labelled_by_its_channels(small_mnist):
    a = load_stacked_mnist(train_size=200, test_size=100)
    b = load_stacked_mnist(train_size=200, test_size=100)
    c = load_stacked_mnist(train_size=200, test_size=100, seed=1)
    assert a.checksum == b.checksum != c.checksum
    assert a.num_classes == 1000 and a.image_shape == (3, 28, 28) and a.base_checksum == small_mnist.checksum
    # each channel is an MNIST test digit; the label spells the three digits
    for img, label in zip(a.test_images[:20], a.test_labels[:20], strict=True):
        for c_, digit in enumerate(f"{int(label):03d}"):
            match = (small_mnist.test_images[:, 0] == img[c_]).flatten(1).all(1)
            assert match.any() and int(digit) in small_mnist.test_labels[match].tolist()
