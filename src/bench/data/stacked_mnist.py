"""`data=stacked_mnist`: three MNIST digits stacked as the R, G and B channels: 1000 modes (VEEGAN / PacGAN).

Each image takes three independently drawn MNIST digits (train images for the train pool, test images for
the test set, seeded), one per channel; its class is 100 * digit(R) + 10 * digit(G) + digit(B). The
protocol (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN) counts a generator's modes by
classifying each channel with a pretrained MNIST classifier (`bench.features.per_channel`) and reports
the modes covered (classes with at least one sample) and KL(generated || uniform over 1000), `ModeMeasure`.

Reference point: a perfect generator's class histogram on N samples is itself a multinomial draw, so it
does not score 0: its expected KL to uniform is about (K - 1) / (2N) = 999 / (2N) nats (0.25 at N = 2,000;
0.038 at N = 13,000), and it covers about K (1 - (1 - 1/K)^N) modes (865 of 1000 at N = 2,000). The floor
(held-out real images scored the same way) shows both at the run's sample size.
"""

from __future__ import annotations

import math

import torch

from bench.data.images import ImageDataset, Measure
from bench.data.mnist import load_mnist
from bench.errors import BenchError, check_positive
from bench.seeding import generator

CHANNELS = 3
MODES = 10**CHANNELS
PROTOCOL = "Srivastava et al. 2017 (VEEGAN, NeurIPS); Lin et al. 2018 (PacGAN, NeurIPS): Stacked MNIST mode counting"


def mode_counts(labels: torch.Tensor, num_modes: int = MODES) -> torch.Tensor:
    return torch.bincount(labels.reshape(-1).long(), minlength=num_modes)


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform over len(counts)) in nats, p = counts / sum, 0 ln 0 = 0."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * (p * len(counts)).log()).sum())


class ModeMeasure(Measure):
    """modes_covered (classes with >= 1 sample) and kl_uniform, from the per-channel classes of the images."""

    def __init__(self, num_modes: int = MODES):
        self.num_modes = num_modes
        self.info = {
            "modes_covered": {
                "higher_is_better": True,
                "definition": f"modes (of {num_modes}) with at least one sample; classes from the per-channel "
                "classifier",
                "citation": PROTOCOL,
            },
            "kl_uniform": {
                "higher_is_better": False,
                "definition": f"KL(p_gen || uniform over {num_modes} modes), nats; a perfect generator on N samples "
                f"scores about {num_modes - 1}/(2N)",
                "citation": PROTOCOL,
            },
        }
        self.plots = {
            "file": "modes.png",
            "lines": [
                ("modes_covered", f"modes covered (of {num_modes})"),
                ("kl_uniform", "KL(generated || uniform), nats"),
            ],
            "histograms": [],
        }

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict:
        if labels is None:
            return {}
        counts = mode_counts(labels, self.num_modes)
        return {"modes_covered": int((counts > 0).sum()), "kl_uniform": kl_to_uniform(counts)}


def stack(
    images: torch.Tensor, labels: torch.Tensor, n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """n images, each the channel-wise stack of CHANNELS digits drawn uniformly at random from `images`."""
    idx = torch.randint(0, len(images), (n, CHANNELS), generator=gen)
    stacked = images[idx.flatten(), 0].reshape(n, CHANNELS, *images.shape[2:])
    y = sum(labels[idx[:, k]] * 10 ** (CHANNELS - 1 - k) for k in range(CHANNELS))
    assert isinstance(y, torch.Tensor)
    return stacked, y


def load_stacked_mnist(
    *, train_size: int = 60000, test_size: int = 10000, seed: int = 0, source: str = "auto", root: str | None = None
) -> ImageDataset:
    train_size = check_positive("data.train_size", train_size)
    test_size = check_positive("data.test_size", test_size)
    if math.prod((train_size, CHANNELS)) > 10**8:
        raise BenchError(f"data.train_size={train_size} is too large; at most {10**8 // CHANNELS}")
    mnist = load_mnist(source=source, root=root)
    train = stack(mnist.train_images, mnist.train_labels, train_size, generator(seed, "stacked", "train"))
    test = stack(mnist.test_images, mnist.test_labels, test_size, generator(seed, "stacked", "test"))
    return ImageDataset(
        name="stacked_mnist",
        source=mnist.source,
        train_images=train[0],
        train_labels=train[1],
        test_images=test[0],
        test_labels=test[1],
        num_classes=MODES,
        base_checksum=mnist.checksum,
        measure=ModeMeasure(),
    )
