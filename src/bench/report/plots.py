"""Pictures of collapse.

The main metrics over generations (with the real-data floor), and class shares per generation.
"""

from __future__ import annotations

import io
import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here, and none needed
import matplotlib.colors
import matplotlib.pyplot as plt

from bench.io.atomic import write_bytes

PANELS = [
    ("fid", "FID (lower is better)"),
    ("kid_mean", "KID (lower is better)"),
    ("precision", "precision (k-NN)"),
    ("recall", "recall (k-NN)"),
    ("density", "density"),
    ("coverage", "coverage"),
    ("classes_covered", "classes covered"),
    ("kl_gen_real", "KL(generated || real) classes, nats"),
    ("min_class_share", "smallest class share"),
    ("memorized_share_dt", "memorised share against D_t (own training set)"),
    ("entropy_dt", "k-NN entropy of D_t, nats"),
    ("entropy_gen", "k-NN entropy of the samples, nats"),
]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot_metrics(path: Path, records: list[dict], floor: dict | None, *, title: str) -> None:
    gens = [r["generation"] for r in records]
    fig, axes = plt.subplots(3, 4, figsize=(16, 9), constrained_layout=True)
    for ax, (key, label) in zip(axes.flat, PANELS, strict=True):
        ys = [r["metrics"].get(key) for r in records]
        ax.plot(gens, ys, marker="o", label="generated")
        if floor and isinstance(floor.get(key), (int, float)) and math.isfinite(floor[key]):  # null/inf: no line
            ax.axhline(floor[key], color="grey", linestyle="--", label="held-out real (floor)")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("generation")
        ax.set_xticks(gens)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title)
    write_bytes(path, _png(fig))


# up to this many classes a stacked area per class reads well; beyond (Stacked MNIST's 1000) summaries instead
MAX_STACKED_CLASSES = 20


def plot_class_shares(
    path: Path, records: list[dict], real_shares: list[float] | None, *, title: str, floor: dict | None = None
) -> None:
    """Stacked shares of each class per generation: the picture of minority modes shrinking and vanishing."""
    shares = [r["metrics"]["class_shares"] for r in records]
    if len(shares[0]) > MAX_STACKED_CLASSES:
        _plot_many_class_shares(path, records, floor, title=title)
        return
    gens = [r["generation"] for r in records]
    num_classes = len(shares[0])
    fig, ax = plt.subplots(figsize=(8, 5))
    columns = [[s[c] for s in shares] for c in range(num_classes)]
    colors = plt.get_cmap("tab10" if num_classes <= 10 else "tab20")(range(num_classes))
    if len(gens) > 1:
        ax.stackplot(gens, columns, labels=[str(c) for c in range(num_classes)], colors=colors, alpha=0.9)
    else:
        bottom = 0.0
        for c in range(num_classes):
            ax.bar(gens, [columns[c][0]], bottom=bottom, color=colors[c], label=str(c))
            bottom += columns[c][0]
    if real_shares:
        for level in [sum(real_shares[: c + 1]) for c in range(num_classes - 1)]:
            ax.axhline(level, color="black", linewidth=0.5, linestyle=":")
    ax.set_xlim(min(gens) - 0.5 if len(gens) == 1 else min(gens), max(gens) + 0.5 if len(gens) == 1 else max(gens))
    ax.set_ylim(0, 1)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of generated samples (dotted: real)")
    ax.set_xticks(gens)
    ax.legend(title="class", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    ax.set_title(title)
    write_bytes(path, _png(fig))


def _class_counts(metrics: dict) -> list[int]:
    n = metrics.get("n_gen") or 0
    return [round(share * n) for share in metrics["class_shares"]]


def _plot_many_class_shares(path: Path, records: list[dict], floor: dict | None, *, title: str) -> None:
    """Many classes: classes with at least one sample over generations, and the histogram of samples per class."""
    gens = [r["generation"] for r in records]
    num_classes = len(records[0]["metrics"]["class_shares"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    present = [sum(c > 0 for c in _class_counts(r["metrics"])) for r in records]
    left.plot(gens, present, marker="o", label="generated")
    if floor and "class_shares" in floor:
        left.axhline(
            sum(c > 0 for c in _class_counts(floor)), color="grey", linestyle="--", label="held-out real (floor)"
        )
    left.set_ylim(0, num_classes * 1.05)
    left.set_title(f"classes with at least one sample (of {num_classes})", fontsize=10)
    left.set_xlabel("generation")
    left.set_xticks(gens)
    left.legend(fontsize=8)
    # samples per class in doubling bins (0, 1, 2, 3-4, 5-8, ...): lost modes and crowded ones both stay visible
    counts = [_class_counts(r["metrics"]) for r in records]
    if floor and "class_shares" in floor:
        counts.append(_class_counts(floor))
    edges = [0, 1, 2]
    while edges[-1] <= max(max(c) for c in counts):
        edges.append(2 * edges[-1] - 1)
    labels = [str(a) if b - a == 1 else f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)]

    def binned(c: list[int]) -> list[int]:
        return [sum(a <= x < b for x in c) for a, b in itertools.pairwise(edges)]

    cmap = plt.get_cmap("viridis")
    xs = list(range(len(labels)))
    for i, r in enumerate(records):
        color = cmap(i / max(1, len(records) - 1))
        right.plot(xs, binned(counts[i]), marker="o", color=color, label=f"gen {r['generation']}")
    if floor and "class_shares" in floor:
        right.plot(xs, binned(counts[-1]), color="black", linestyle="--", label="held-out real (floor)")
    right.set_xticks(xs, labels, rotation=45, fontsize=8)
    right.set_xlabel("samples in the class")
    right.set_ylabel("number of classes")
    right.set_title("samples per class (0: a lost mode)", fontsize=10)
    right.legend(fontsize=8)
    fig.suptitle(title)
    write_bytes(path, _png(fig))


def plot_measures(path: Path, records: list[dict], floor: dict | None, spec: dict, *, title: str) -> None:
    """A data set's own measurements (`Measure.plots`): each `lines` key over generations, each `histograms` key
    as one row of bars per generation (held-out real on top), bars coloured by hue for a hue axis."""
    lines, hists = spec.get("lines", []), spec.get("histograms", [])
    panels = len(lines) + len(hists)
    if not panels:
        return
    gens = [r["generation"] for r in records]
    widths = [1] * len(lines) + [2] * len(hists)
    fig, grid = plt.subplots(1, panels, figsize=(4.5 * sum(widths), 4.8), width_ratios=widths, squeeze=False)
    axes = list(grid[0])
    for ax, (key, label) in zip(axes, lines, strict=False):
        ax.plot(gens, [r["metrics"].get(key) for r in records], marker="o", label="generated")
        if floor and isinstance(floor.get(key), (int, float)) and math.isfinite(floor[key]):
            ax.axhline(floor[key], color="grey", linestyle="--", label="held-out real (floor)")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("generation")
        ax.set_xticks(gens)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    for ax, (key, label, edges, xlabel) in zip(axes[len(lines) :], hists, strict=True):
        rows = [("real", floor.get(key))] if floor and floor.get(key) is not None else []
        rows += [(f"gen {r['generation']}", r["metrics"].get(key)) for r in records]
        centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        width = edges[1] - edges[0]
        hue_axis = "hue" in xlabel
        colors = [matplotlib.colors.hsv_to_rgb((c / 360.0 % 1.0, 0.9, 0.9)) if hue_axis else "C0" for c in centres]
        for i, (_, values) in enumerate(rows):
            if values is None:
                continue
            base = len(rows) - 1 - i
            peak = max(values) or 1.0
            heights = [0.9 * math.sqrt(v / peak) for v in values]  # square root: a 1% tail stays visible
            ax.bar(centres, heights, width=width * 0.95, bottom=base, color=colors, edgecolor="none")
            ax.text(edges[-1], base + 0.45, f" {max(values):.2f}", fontsize=7, va="center")
        for mark in spec.get("marks", {}).get(key, []):
            ax.axvline(mark, color="black", linewidth=0.6, linestyle=":")
        ax.set_yticks([len(rows) - 1 - i + 0.45 for i in range(len(rows))], [name for name, _ in rows])
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(xlabel)
        ax.set_title(f"{label} (bar height: square root of the share; each row's peak share at right)", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    write_bytes(path, _png(fig))
