"""Train the reference MNIST classifier whose penultimate layer is the benchmark's feature space.

The shipped weights were made with exactly:

    python scripts/train_reference.py --seed 0 --epochs 8

It trains `bench.features.mnist_classifier.MnistClassifier` on the full MNIST train set (60,000
digits, random +-2 px shifts), evaluates on the 10,000 test digits, and writes into --out:

    mnist_classifier.pt    the state_dict (float32; loaded with torch.load(..., weights_only=True))
    mnist_classifier.json  name, sha256 of the .pt bytes, test_accuracy, feature_dim, train_command,
                           seed, epochs, torch_version, trained_on (MNIST data set checksum), ...

Plain torch on CPU, 2 threads; a few minutes on 2 cores. Refuses to write weights below 99% test accuracy.
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

from bench.data.mnist import load_mnist  # noqa: E402
from bench.features.mnist_classifier import FEATURE_DIM, MnistClassifier  # noqa: E402

NAME = "mnist_classifier"
MIN_TEST_ACCURACY = 0.99
MAX_SHIFT = 2


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = MAX_SHIFT) -> torch.Tensor:
    """Shift each uint8 image (N, 1, H, W) by its own random (dy, dx) in [-max_shift, max_shift], zero fill."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (N, 1, W)
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.inference_mode()
def accuracy(model: MnistClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = sum(
        int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
        for i in range(0, len(images), batch_size)
    )
    return correct / len(images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "bench" / "assets")
    args = parser.parse_args(argv)

    torch.set_flush_denormal(True)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    data = load_mnist()
    x_train, y_train = data.train_images, data.train_labels
    model = MnistClassifier()
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch
    )

    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(x_train), args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = F.cross_entropy(model(random_shift(x_train[idx], gen)), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        test_acc = accuracy(model, data.test_images, data.test_labels)
        print(
            f"epoch {epoch + 1}/{args.epochs}  loss {total / len(x_train):.4f}  test acc {test_acc:.4f}  "
            f"{time.perf_counter() - start:.0f}s",
            flush=True,
        )
    train_seconds = time.perf_counter() - start

    test_acc = accuracy(model, data.test_images, data.test_labels)
    if test_acc < MIN_TEST_ACCURACY:
        print(f"test accuracy {test_acc:.4f} is below {MIN_TEST_ACCURACY}; weights not written", file=sys.stderr)
        return 1

    buf = io.BytesIO()
    torch.save({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, buf)
    weights = buf.getvalue()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{NAME}.pt").write_bytes(weights)
    command = "python scripts/train_reference.py" + "".join(
        f" {flag} {value}" for flag, value in (("--seed", args.seed), ("--epochs", args.epochs))
    )
    if (args.batch_size, args.lr) != (128, 3e-3):
        command += f" --batch-size {args.batch_size} --lr {args.lr}"
    meta = {
        "name": NAME,
        "sha256": hashlib.sha256(weights).hexdigest(),
        "test_accuracy": round(test_acc, 4),
        "feature_dim": FEATURE_DIM,
        "num_classes": 10,
        "architecture": (
            "MnistClassifier: conv5x5/2(32)-BN-ReLU, conv3x3/2(64)-BN-ReLU, fc128-ReLU (features), dropout, fc10"
        ),
        "input": "uint8 (N, 1, 28, 28); scaled to [0, 1] and normalised inside the model",
        "train_command": command,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "augmentation": f"random shifts of up to {MAX_SHIFT} px",
        "train_seconds": round(train_seconds, 1),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "trained_on": data.checksum,
        "data_source": data.source,
    }
    (args.out / f"{NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"wrote {args.out / f'{NAME}.pt'} ({len(weights)} bytes, sha256 {meta['sha256']}), "
        f"test accuracy {test_acc:.4f}, {train_seconds:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
