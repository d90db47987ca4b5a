"""data=tails: colour measured exactly from pixels, an exact minority share, deterministic under a seed."""

from __future__ import annotations

import math

import pytest
import torch

from bench.data import tails as tails_module
from bench.data.tails import COLORS, HueMeasure, colorize, image_hues, load_tails, rgb_hue
from bench.errors import BenchError
from conftest import use_small_mnist


def painted(rgb, n=1, size=6) -> torch.Tensor:
    """n images whose every pixel is round(200 * rgb / 255) on a black border."""
    gray = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    gray[:, :, 1:-1, 1:-1] = 200
    return colorize(gray, torch.tensor([rgb] * n, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("name", "hue"), [("red", 0.0), ("yellow", 60.0), ("green", 120.0), ("cyan", 180.0), ("blue", 240.0)]
)
def test_hue_of_an_image_of_one_colour_is_exact(name, hue):
    assert rgb_hue(COLORS[name]) == hue
    assert image_hues(painted(COLORS[name], n=3)).tolist() == [hue] * 3


def test_hue_is_the_chroma_weighted_circular_mean_of_the_stroke():
    x = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    x[0, :, 0, 0] = torch.tensor([0, 0, 255])  # blue, chroma 255
    x[0, :, 0, 1] = torch.tensor([0, 0, 255])
    x[0, :, 1, 0] = torch.tensor([0, 255, 255])  # cyan, chroma 255
    x[0, :, 1, 1] = torch.tensor([40, 40, 40])  # dark grey: below the stroke threshold, and without hue anyway
    expected = (
        math.degrees(
            math.atan2(
                2 * math.sin(math.radians(240)) + math.sin(math.radians(180)),
                2 * math.cos(math.radians(240)) + math.cos(math.radians(180)),
            )
        )
        % 360
    )
    assert image_hues(x).item() == pytest.approx(expected, abs=1e-9)
    assert math.isnan(image_hues(torch.full((1, 3, 4, 4), 200, dtype=torch.uint8)).item())  # grey: no hue


def test_minority_is_the_side_of_the_hue_circle_nearer_the_minority_colour():
    m = HueMeasure(minority_rgb=COLORS["blue"], majority_rgb=COLORS["yellow"])
    images = torch.cat([painted(COLORS[c]) for c in ("blue", "cyan", "green", "yellow", "red")])
    images = torch.cat([images, torch.zeros(1, 3, 6, 6, dtype=torch.uint8)])  # a blank image: no colour
    out = m(images, None)
    assert out["minority_share"] == 2 / 6  # blue 240 and cyan 180 are nearer 240 than 60; green 120 is not
    assert out["colorless_share"] == 1 / 6
    hist = out["hue_histogram"]
    assert len(hist) == 36 and sum(hist) == pytest.approx(5 / 6)
    assert hist[24] == hist[18] == hist[12] == hist[6] == hist[0] == pytest.approx(1 / 6)


@pytest.fixture
def small_mnist(monkeypatch, mnist):
    """tails built from 300 train / 200 test MNIST digits (the full set takes seconds)."""
    return use_small_mnist(monkeypatch, tails_module, mnist, 300, 200)


def test_real_tails_images_have_exactly_their_colour_and_their_digit(small_mnist):
    data = load_tails(minority_fraction=0.1)
    assert data.image_shape == (3, 28, 28) and data.base_checksum == small_mnist.checksum
    hues = image_hues(data.test_images)
    assert set(hues.tolist()) == {60.0, 240.0}
    assert (hues == 240.0).sum().item() == round(0.1 * 200)
    m = data.measure(data.test_images, None)
    assert m["minority_share"] == round(0.1 * 200) / 200 and m["colorless_share"] == 0
    # brightness max(R, G, B) is the MNIST digit, pixel for pixel
    assert torch.equal(data.test_images.amax(1, keepdim=True), small_mnist.test_images)
    assert torch.equal(data.test_labels, small_mnist.test_labels)


def test_tails_is_deterministic_under_its_seed(small_mnist):
    a, b, c = load_tails(seed=0), load_tails(seed=0), load_tails(seed=1)
    assert a.checksum == b.checksum and torch.equal(a.train_images, b.train_images)
    assert a.checksum != c.checksum  # another seed paints other images blue
    assert load_tails(minority_fraction=0.2).checksum != a.checksum


def test_imbalanced_digits(small_mnist):
    weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0.1]
    data = load_tails(digit_weights=weights)
    counts = torch.bincount(data.train_labels, minlength=10).tolist()
    smallest = min(torch.bincount(small_mnist.train_labels, minlength=10)[:9].tolist())
    assert counts[9] == math.floor(0.1 * smallest + 1e-9) and counts[:9] == [smallest] * 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minority_fraction": 0}, r"data\.minority_fraction=0 is outside the allowed range \(0, 1\)"),
        ({"minority_fraction": 1.0}, r"data\.minority_fraction=1\.0 is outside the allowed range \(0, 1\)"),
        ({"minority_fraction": True}, r"data\.minority_fraction=True is outside"),
        ({"minority_color": "purple"}, r"data\.minority_color='purple' is not a known colour; allowed: blue"),
        ({"minority_color": [0, 0, 100]}, r"data\.minority_color=\[0, 0, 100\] must be a colour name"),
        ({"majority_color": "blue"}, r"have the same hue"),
        ({"digit_weights": [1, 2]}, r"data\.digit_weights=\[1, 2\] must be null or 10 numbers"),
    ],
)
def test_bad_tails_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(BenchError, match=message) as info:
        load_tails(**kwargs)
    assert "\n" not in str(info.value)
