import os

import pytest
import torch

# denormals slowed CPU sampling tenfold at random; the run sets this too, tests that skip run() need it here
torch.set_flush_denormal(True)
os.environ.setdefault("BENCH_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", "outputs", ".cache-tests"))


def tiny_overrides(*, n_train: int = 300, generations: int = 3) -> list[str]:
    """Overrides for a run of seconds per generation on 2 cores, large enough for every metric to be defined."""
    return [
        f"data.n_train={n_train}",
        f"loop.generations={generations}",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "metrics.n_samples=200",
        "metrics.n_reference=400",
        "metrics.kid_subset_size=100",
        "metrics.kid_subsets=10",
    ]


@pytest.fixture(scope="session")
def mnist():
    from bench.data.mnist import load_mnist

    return load_mnist()


def kill_after_first_generation(args: list[str], run_dir, *, cwd) -> None:
    """Start `python -m bench ARGS hydra.run.dir=RUN_DIR` and kill -9 it once generation 0 is committed."""
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "bench", *args, f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not (run_dir / "gen_000" / "record.json").exists():
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def mnist_subset(mnist, n_train: int, n_test: int):
    """The first n_train / n_test MNIST digits as an ImageDataset: data sets built on MNIST, tested in moments."""
    from bench.data.images import ImageDataset

    return ImageDataset(
        name="mnist",
        source=mnist.source,
        train_images=mnist.train_images[:n_train],
        train_labels=mnist.train_labels[:n_train],
        test_images=mnist.test_images[:n_test],
        test_labels=mnist.test_labels[:n_test],
        num_classes=10,
    )


def use_small_mnist(monkeypatch, module, mnist, n_train: int, n_test: int):
    """Make `module.load_mnist` (a data set built on MNIST) return the first n_train / n_test digits."""
    small = mnist_subset(mnist, n_train, n_test)
    monkeypatch.setattr(module, "load_mnist", lambda **kw: small)
    return small
