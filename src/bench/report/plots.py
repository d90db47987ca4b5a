"""Pictures of collapse.

The main metrics over generations (with the real-data floor), and class shares per generation.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here, and none needed
import matplotlib.pyplot as plt

from bench.report.atomic import write_bytes

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
]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot_metrics(path: Path, records: list[dict], floor: dict | None, *, title: str) -> None:
    gens = [r["generation"] for r in records]
    fig, axes = plt.subplots(3, 3, figsize=(12, 9), constrained_layout=True)
    for ax, (key, label) in zip(axes.flat, PANELS, strict=True):
        ys = [r["metrics"].get(key) for r in records]
        ax.plot(gens, ys, marker="o", label="generated")
        if floor and key in floor:
            ax.axhline(floor[key], color="grey", linestyle="--", label="held-out real (floor)")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("generation")
        ax.set_xticks(gens)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title)
    write_bytes(path, _png(fig))


def plot_class_shares(path: Path, records: list[dict], real_shares: list[float] | None, *, title: str) -> None:
    """Stacked shares of each class per generation: the picture of minority modes shrinking and vanishing."""
    gens = [r["generation"] for r in records]
    shares = [r["metrics"]["class_shares"] for r in records]
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
