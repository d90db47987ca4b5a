import os

import pytest
import torch

# denormals slowed CPU sampling tenfold at random; the run sets this too, tests that skip run() need it here
torch.set_flush_denormal(True)
os.environ.setdefault("BENCH_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", "outputs", ".cache-tests"))


@pytest.fixture(scope="session")
def mnist():
    from bench.data.mnist import load_mnist

    return load_mnist()
