"""Train the reference classifier of a labelled data set: its penultimate layer is that data set's feature space.

    python scripts/train_reference.py --data mnist --seed 0 --epochs 8     # the shipped MNIST classifier
    python scripts/train_reference.py --data digits --seed 0                # the shipped digits classifier
    python scripts/train_reference.py --data fashion_mnist data.root=/data  # any labelled data set; config overrides

The data set is built from its config (`conf/data/NAME.yaml` plus overrides), exactly as a run builds it.
MNIST trains `MnistClassifier`, every other data set a `SmallCNN` sized to its images, on the train pool
with random shifts, seeded and deterministic (the same command writes the same bytes on the same torch and
CPU), then is evaluated on the held-out test set, which it never trains on. It writes into --out
(default: src/bench/assets/):

    NAME_classifier.pt    the state_dict (float32; loaded with torch.load(..., weights_only=True))
    NAME_classifier.json  name, sha256 of the .pt bytes, test_accuracy, feature_dim, num_classes, input_shape,
                          network and its sizes, train_command, seed, epochs, torch_version, trained_on (the data
                          set's checksum), ...

It refuses to write weights below --min-accuracy (default per data set: 0.99 for MNIST, 0.9 for digits, 0 else).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # run from a checkout without installing

from bench.errors import BenchError  # noqa: E402
from bench.features.mnist_classifier import FEATURE_DIM, MnistClassifier  # noqa: E402
from bench.features.networks import SmallCNN  # noqa: E402

MAX_SHIFT = 2
# per data set: the defaults of the command line (a flag given wins)
RECIPES = {
    "mnist": {"epochs": 8, "batch_size": 128, "lr": 3e-3, "max_shift": 2, "min_accuracy": 0.99, "threads": 2},
    "digits": {
        "epochs": 40,
        "batch_size": 64,
        "lr": 3e-3,
        "max_shift": 1,
        "min_accuracy": 0.9,
        "feature_dim": 64,
        "widths": [16, 32, 32],
    },
}
# one thread: small networks on small batches ran 10-100x slower with two threads on a busy 2-core machine
DEFAULT_RECIPE = {"epochs": 10, "batch_size": 128, "lr": 3e-3, "max_shift": 2, "min_accuracy": 0.0, "threads": 1}


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = MAX_SHIFT) -> torch.Tensor:
    """Shift each uint8 image (N, C, H, W) by its own random (dy, dx) in [-max_shift, max_shift], zero fill."""
    n, c, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (N, 1, W)
    # one gather for any channel count (for C = 1 it equals the single-channel gather the MNIST weights were made with)
    return padded[
        torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows[:, None], cols[:, None]
    ]


@torch.inference_mode()
def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = sum(
        int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
        for i in range(0, len(images), batch_size)
    )
    return correct / len(images)


def load_data(name: str, overrides: list[str]):
    from bench.config import compose
    from bench.data import build_data

    cfg = compose([f"data={name}", *overrides])
    data = build_data(cfg.data)
    if data.base_checksum is not None:
        raise BenchError(
            f"data={name} is built from another data set and scored by that one's classifier ({cfg.data.extractor}); "
            "train that data set's classifier instead"
        )
    if not data.num_classes:
        raise BenchError(f"data={name} has no classes: a reference classifier needs labelled images (class subfolders)")
    return data


def build_network(data, recipe: dict) -> tuple[torch.nn.Module, str, dict]:
    if data.name == "mnist":
        return MnistClassifier(), "MnistClassifier", {}
    kwargs = {
        "input_shape": list(data.image_shape),
        "num_classes": int(data.num_classes),
        "feature_dim": int(recipe.get("feature_dim", 128)),
        "widths": list(recipe.get("widths", [32, 64, 64])),
    }
    return SmallCNN(**kwargs), "SmallCNN", kwargs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="mnist", help="a data config name (conf/data/NAME.yaml)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--min-accuracy", type=float, help="refuse to write weights below this test accuracy")
    parser.add_argument("--threads", type=int, help="torch CPU threads (the bytes written can depend on it)")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "bench" / "assets")
    parser.add_argument("overrides", nargs="*", help="config overrides for the data set, e.g. data.root=/data")
    args = parser.parse_args(argv)

    torch.set_flush_denormal(True)
    torch.use_deterministic_algorithms(True)
    try:
        data = load_data(args.data, args.overrides)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    recipe = {**DEFAULT_RECIPE, **RECIPES.get(data.name, {})}
    threads = args.threads if args.threads is not None else recipe["threads"]
    torch.set_num_threads(threads)
    epochs = args.epochs if args.epochs is not None else recipe["epochs"]
    batch_size = args.batch_size if args.batch_size is not None else recipe["batch_size"]
    lr = args.lr if args.lr is not None else recipe["lr"]
    min_accuracy = args.min_accuracy if args.min_accuracy is not None else recipe["min_accuracy"]
    name = f"{data.name}_classifier"

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, y_train = data.train_images, data.train_labels
    model, network, network_kwargs = build_network(data, recipe)
    steps_per_epoch = -(-len(x_train) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)

    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(x_train), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(random_shift(x_train[idx], gen, recipe["max_shift"])), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        test_acc = accuracy(model, data.test_images, data.test_labels)
        print(
            f"epoch {epoch + 1}/{epochs}  loss {total / len(x_train):.4f}  test acc {test_acc:.4f}  "
            f"{time.perf_counter() - start:.0f}s",
            flush=True,
        )
    train_seconds = time.perf_counter() - start

    test_acc = accuracy(model, data.test_images, data.test_labels)
    if test_acc < min_accuracy:
        print(f"test accuracy {test_acc:.4f} is below {min_accuracy}; weights not written", file=sys.stderr)
        return 1

    buf = io.BytesIO()
    torch.save({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, buf)
    weights = buf.getvalue()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.pt").write_bytes(weights)
    command = "python scripts/train_reference.py" + (f" --data {data.name}" if data.name != "mnist" else "")
    command += f" --seed {args.seed} --epochs {epochs}"
    if (batch_size, lr) != (recipe["batch_size"], recipe["lr"]):
        command += f" --batch-size {batch_size} --lr {lr}"
    if threads != recipe["threads"]:
        command += f" --threads {threads}"
    command += "".join(f" {o}" for o in args.overrides)
    feature_dim = FEATURE_DIM if network == "MnistClassifier" else network_kwargs["feature_dim"]
    meta = {
        "name": name,
        "sha256": hashlib.sha256(weights).hexdigest(),
        "test_accuracy": round(test_acc, 4),
        "feature_dim": feature_dim,
        "num_classes": int(data.num_classes),
        "input_shape": list(data.image_shape),
        "network": network,
        "network_kwargs": network_kwargs,
        "data": data.name,
        "n_train": len(x_train),
        "n_test": len(data.test_images),
        "train_command": command,
        "seed": args.seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "augmentation": f"random shifts of up to {recipe['max_shift']} px",
        "train_seconds": round(train_seconds, 1),
        "threads": threads,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "trained_on": data.checksum,
        "data_source": data.source,
    }
    (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"wrote {args.out / f'{name}.pt'} ({len(weights)} bytes, sha256 {meta['sha256']}), "
        f"test accuracy {test_acc:.4f}, {train_seconds:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
