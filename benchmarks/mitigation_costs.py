"""What the newest papers' diagnostics and mitigations add to a generation, in seconds, on this machine.

    python benchmarks/mitigation_costs.py [--threads 2] [--sizes 4000,20000,40000]

Each part is timed on real MNIST images in the reference feature space, at the protocol's sizes (|D_0| = 4,000,
2,000 scored samples, 8,000 curation candidates), with `--threads` torch threads:
- own-data metrics (memorised share of D_t, k-NN entropies), every generation: at |D_t| = each of `--sizes`
  (accumulate's D_t grows by 4,000 a generation: 40,000 at the protocol's last);
- loop.curation=entropy: greedy max-min selection of 4,000 of 8,000 candidates, per curated set;
- loop.curation=verifier: training the verifier, once per run, for a few label counts;
- loop.real_weight: one epoch of weighted draws against a shuffle over 4,000 images (the loader only: the model's
  steps are the same number either way).
Negative guidance's cost is a model's own (|D_t| more samples and `model.auxiliary_steps` fine-tuning steps a
generation); a run records it per generation (`generations[t].auxiliary.seconds`).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from bench.config import compose
from bench.engine.entropy_selection import maximin_selection
from bench.engine.real_side import real_side
from bench.engine.verifier import train_verifier
from bench.metrics.own_data import own_data_metrics


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="4000,20000,40000")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    real = real_side(compose([]))
    ev, pool = real.evaluator, real.pool
    feats = ev.extractor.extract(pool[:40000])[0]
    gen = ev.extractor.extract(real.data.test_images[:2000])[0]
    print(f"torch threads: {torch.get_num_threads()}")
    for n in (int(s) for s in args.sizes.split(",")):
        print(
            f"own-data metrics, |D_t| = {n}, 2,000 samples: {timed(lambda n=n: own_data_metrics(feats[:n], gen)):.1f} s"
        )
    print(f"entropy curation, 4,000 of 8,000 candidates: {timed(lambda: maximin_selection(feats[:8000], 4000)):.1f} s")
    for k in (10, 1000, 60000):
        seconds = timed(lambda k=k: train_verifier(ev, k, seed=0))
        print(f"verifier on {k} labels: {seconds:.1f} s, once a run")
    data = TensorDataset(pool[:4000], torch.zeros(4000, dtype=torch.long))
    weights = torch.ones(4000, dtype=torch.float64)
    shuffled = DataLoader(data, batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(0))
    weighted = DataLoader(data, batch_size=128, sampler=WeightedRandomSampler(weights, 4000, generator=None))
    plain, drawn = timed(lambda: list(shuffled)), timed(lambda: list(weighted))
    print(f"real_weight loader epoch over 4,000 images: shuffle {plain:.3f} s, weighted draws {drawn:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
