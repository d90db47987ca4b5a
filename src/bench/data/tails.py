"""`data=tails`: MNIST digits in two colours, a minority (default blue) and a majority (default yellow).

Collapse loses the tails first: "10 blue cats among 90 yellow ones turn green, then yellow". Here the
tail is known exactly. Every image is one MNIST digit whose stroke is painted one colour by construction,
pixel = round(intensity * colour / 255), on `minority_fraction` of the images (a seeded, exact share) the
minority colour, on the rest the majority colour; `digit_weights` optionally makes the digit classes
imbalanced too. Colours have a largest channel of 255, so an image's brightness max(R, G, B) is its MNIST
digit exactly: the MNIST classifier scores the digits on the brightness (`bench.features.luminance`).

The colour of any image, real or generated, is measured from its pixels (`HueMeasure`): the circular mean
of the hue of its stroke pixels (brightness >= `stroke_threshold`), each weighted by its chroma
max - min (grey pixels have no hue). A real image's hue is exactly its colour's (blue 240°, yellow 60°).
An image is *minority* when its hue is nearer (on the hue circle) the minority colour's than the
majority colour's: with blue and yellow, 180° apart, the boundary runs through 150° (between green and
cyan) and 330°. An image with no coloured stroke counts as neither.
"""

from __future__ import annotations

import math

import torch

from bench.data.images import ImageDataset, Measure
from bench.data.mnist import load_mnist
from bench.errors import BenchError
from bench.seeding import generator

COLORS = {
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "green": (0, 255, 0),
    "red": (255, 0, 0),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
}
HUE_BINS = 36  # 10° each


def parse_color(key: str, value) -> tuple[int, int, int]:
    """A colour name or [R, G, B] with channels in 0..255, largest 255, not grey; else a one-line error."""
    if isinstance(value, str):
        if value not in COLORS:
            raise BenchError(f"{key}={value!r} is not a known colour; allowed: {', '.join(COLORS)} or [R, G, B]")
        return COLORS[value]
    try:
        rgb = tuple(int(v) for v in value)
        ok = len(rgb) == 3 and all(0 <= v <= 255 and v == w for v, w in zip(rgb, value, strict=True))
    except (TypeError, ValueError):
        ok = False
    if not ok or max(rgb) != 255 or min(rgb) == 255:
        raise BenchError(
            f"{key}={value!r} must be a colour name ({', '.join(COLORS)}) or [R, G, B] integers in 0..255 with the "
            "largest 255 (so brightness is the digit) and not white"
        )
    return rgb  # type: ignore[return-value]


def rgb_hue(rgb) -> float:
    """Hue in degrees [0, 360) of one RGB triple (HSV convention)."""
    t = torch.tensor([[list(rgb)]], dtype=torch.float64).permute(2, 0, 1)  # (3, 1, 1)
    return float(pixel_hue(t[None])[0][0, 0, 0])


def pixel_hue(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hue in degrees, chroma, brightness) per pixel of (N, 3, H, W) images, float64; hue 0 where chroma is 0."""
    x = images.to(torch.float64)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    mx, mn = x.max(1).values, x.min(1).values
    c = mx - mn
    safe = torch.where(c > 0, c, torch.ones_like(c))
    h = torch.where(
        mx == r, torch.remainder((g - b) / safe, 6.0), torch.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    return torch.where(c > 0, h * 60.0, torch.zeros_like(h)), c, mx


def image_hues(images: torch.Tensor, *, stroke_threshold: int = 64, batch_size: int = 2000) -> torch.Tensor:
    """Per image: the chroma-weighted circular mean hue (degrees, [0, 360)) of its stroke pixels; NaN if none."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise BenchError(f"tails hue needs RGB images (N, 3, H, W); got {tuple(images.shape)}")
    out = torch.empty(len(images), dtype=torch.float64)
    for i in range(0, len(images), batch_size):
        h, c, v = pixel_hue(images[i : i + batch_size])
        w = c * (v >= stroke_threshold)
        rad = torch.deg2rad(h)
        s, co, total = (w * rad.sin()).sum((1, 2)), (w * rad.cos()).sum((1, 2)), w.sum((1, 2))
        mean = torch.remainder(torch.rad2deg(torch.atan2(s, co)), 360.0)
        # atan2 of summed sines and cosines can move a hue by an ulp: an image of one hue gets that hue exactly
        lo = torch.where(w > 0, h, torch.full_like(h, math.inf)).amin((1, 2))
        hi = torch.where(w > 0, h, torch.full_like(h, -math.inf)).amax((1, 2))
        mean = torch.where(lo == hi, lo, mean)
        out[i : i + batch_size] = torch.where(total > 0, mean, torch.full_like(mean, math.nan))
    return out


def hue_distance(a: torch.Tensor, b: float) -> torch.Tensor:
    d = torch.remainder(a - b, 360.0)
    return torch.minimum(d, 360.0 - d)


class HueMeasure(Measure):
    """minority_share, colorless_share and hue_histogram of a set of RGB images (see the module docstring)."""

    def __init__(self, *, minority_rgb, majority_rgb, stroke_threshold: int = 64, bins: int = HUE_BINS):
        self.minority_hue, self.majority_hue = rgb_hue(minority_rgb), rgb_hue(majority_rgb)
        self.stroke_threshold, self.bins = int(stroke_threshold), int(bins)
        self.edges = [360.0 * i / self.bins for i in range(self.bins + 1)]
        cite = "bench data=tails: colour measured from pixels"
        self.info = {
            "minority_share": {
                "higher_is_better": None,
                "definition": (
                    f"share of images whose stroke hue is nearer the minority colour's ({self.minority_hue:.0f}°) "
                    f"than the majority's ({self.majority_hue:.0f}°); the real share is data.minority_fraction"
                ),
                "citation": cite,
            },
            "colorless_share": {
                "higher_is_better": False,
                "definition": "share of images without a coloured stroke pixel (no hue)",
                "citation": cite,
            },
            "hue_histogram": {
                "higher_is_better": None,
                "definition": f"share of images per {360 // self.bins}° bin of their mean stroke hue, from 0°",
                "citation": cite,
            },
        }
        self.plots = {
            "file": "tails.png",
            "lines": [
                (
                    "minority_share",
                    f"minority share (hue nearer {self.minority_hue:.0f}° than {self.majority_hue:.0f}°)",
                )
            ],
            "histograms": [("hue_histogram", "hue of each image, per generation", self.edges, "hue (degrees)")],
            "marks": {"hue_histogram": [self.minority_hue, self.majority_hue]},
        }

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
        hues = image_hues(images, stroke_threshold=self.stroke_threshold)
        n = len(hues)
        colored = ~torch.isnan(hues)
        minority = colored & (hue_distance(hues, self.minority_hue) < hue_distance(hues, self.majority_hue))
        counts = torch.histc(hues[colored], bins=self.bins, min=0.0, max=360.0) if bool(colored.any()) else None
        histogram = (counts / n).tolist() if counts is not None else [0.0] * self.bins
        return {
            "minority_share": float(minority.sum()) / n,
            "colorless_share": float((~colored).sum()) / n,
            "hue_histogram": histogram,
        }


def colorize(gray: torch.Tensor, colors: torch.Tensor, *, batch_size: int = 10000) -> torch.Tensor:
    """(N, 1, H, W) uint8 intensities and (N, 3) uint8 colours -> (N, 3, H, W) uint8 round(intensity * colour / 255)."""
    n, _, h, w = gray.shape
    out = torch.empty(n, 3, h, w, dtype=torch.uint8)
    for i in range(0, n, batch_size):
        v = gray[i : i + batch_size].to(torch.int32)
        c = colors[i : i + batch_size].to(torch.int32)[:, :, None, None]
        out[i : i + batch_size] = ((v * c + 127) // 255).to(torch.uint8)  # integer rounding: exact for 0 and 255
    return out


def _digit_subset(labels: torch.Tensor, weights: list[float], gen: torch.Generator) -> torch.Tensor:
    """Indices keeping, per digit k, a share proportional to weights[k] (as many images as the data allow)."""
    counts = torch.bincount(labels, minlength=len(weights)).double()
    w = torch.tensor(weights, dtype=torch.float64)
    scale = float((counts / w.clamp_min(1e-300))[w > 0].min())
    keep = []
    for k, wk in enumerate(weights):
        idx = (labels == k).nonzero().flatten()
        n_k = math.floor(scale * wk + 1e-9)
        keep.append(idx[torch.randperm(len(idx), generator=gen)[:n_k]])
    return torch.cat(keep).sort().values


def load_tails(
    *,
    minority_fraction: float = 0.1,
    minority_color="blue",
    majority_color="yellow",
    digit_weights: list[float] | None = None,
    stroke_threshold: int = 64,
    seed: int = 0,
    source: str = "auto",
    root: str | None = None,
) -> ImageDataset:
    f = minority_fraction
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 < f < 1.0:
        raise BenchError(f"data.minority_fraction={f} is outside the allowed range (0, 1)")
    lo, hi = parse_color("data.minority_color", minority_color), parse_color("data.majority_color", majority_color)
    if rgb_hue(lo) == rgb_hue(hi):
        raise BenchError(
            f"data.minority_color={minority_color!r} and data.majority_color={majority_color!r} have the same hue; "
            "choose two colours of different hue"
        )
    if not isinstance(stroke_threshold, int) or not 0 < stroke_threshold <= 255:
        raise BenchError(f"data.stroke_threshold={stroke_threshold!r} must be an integer in 1..255")
    if digit_weights is not None:
        ok = isinstance(digit_weights, (list, tuple)) and len(digit_weights) == 10
        ok = ok and all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in digit_weights)
        if not ok or not any(w > 0 for w in digit_weights):
            raise BenchError(
                f"data.digit_weights={digit_weights!r} must be null or 10 numbers >= 0 (one per digit), not all 0"
            )
        digit_weights = [float(w) for w in digit_weights]

    mnist = load_mnist(source=source, root=root)
    splits = {}
    for split in ("train", "test"):
        x, y = getattr(mnist, f"{split}_images"), getattr(mnist, f"{split}_labels")
        if digit_weights is not None:
            keep = _digit_subset(y, digit_weights, generator(seed, "tails_digits", split))
            x, y = x[keep], y[keep]
        n = len(x)
        n_minority = round(f * n)
        minority = torch.zeros(n, dtype=torch.bool)
        minority[torch.randperm(n, generator=generator(seed, "tails_colour", split))[:n_minority]] = True
        colors = torch.where(
            minority[:, None], torch.tensor(lo, dtype=torch.uint8), torch.tensor(hi, dtype=torch.uint8)
        )
        splits[split] = (colorize(x, colors), y)
    return ImageDataset(
        name="tails",
        source=mnist.source,
        train_images=splits["train"][0],
        train_labels=splits["train"][1],
        test_images=splits["test"][0],
        test_labels=splits["test"][1],
        num_classes=10,
        base_checksum=mnist.checksum,
        measure=HueMeasure(minority_rgb=lo, majority_rgb=hi, stroke_threshold=stroke_threshold),
    )
