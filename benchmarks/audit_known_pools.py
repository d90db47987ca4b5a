"""The audit on pools of known contamination: does `python -m bench.audit` recover the synthetic share?

    python benchmarks/audit_known_pools.py [--n 5000] [--shares 0,0.1,0.33,0.46] [--other gen_XXX/ ...] [--seed 0]

Each pool mixes real MNIST *test* images (the detector learns from the train pool, never these) with images of
the fixed earlier generator drawn in a stream of their own (not the ones the detector learned). `--other`
contaminates with another generator's images instead (a run folder's gen_XXX/), the case where the detector
must transfer. Every pool goes through the command a user runs; its JSON lands in --out-dir.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.cli.audit import main as audit_main
from bench.config import compose
from bench.data import build_data
from bench.engine.contamination import PoolContamination, earlier_generator
from bench.engine.evaluation import Evaluator
from bench.io.image_files import load_images
from bench.seeding import generator


def make_pool(real: torch.Tensor, synthetic: torch.Tensor, share: float, n: int, seed: int) -> torch.Tensor:
    k = round(share * n)
    r = real[torch.randperm(len(real), generator=generator(seed, "known_pool", "real"))[: n - k]]
    s = synthetic[torch.randperm(len(synthetic), generator=generator(seed, "known_pool", "synthetic"))[:k]]
    pool = torch.cat([r, s])
    return pool[torch.randperm(len(pool), generator=generator(seed, "known_pool", "order"))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--shares", default="0,0.1,0.33,0.46")
    parser.add_argument("--other", nargs="*", default=[], help="gen_XXX/ folders of other generators")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    shares = [float(s) for s in args.shares.split(",")]
    cfg = compose(["data=mnist", "model=vae"])
    data = build_data(cfg.data)
    evaluator = Evaluator(data, cfg.metrics, cache_dir=cfg.cache_dir, data_cfg=cfg.data)
    sources = {
        "earlier generator (same as the detector's)": earlier_generator(
            PoolContamination.of(cfg), evaluator, args.n, "known_pool"
        )[0]
    }
    for other in args.other:
        sources[other] = load_images(other, data.image_shape, "--other")
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="audit_pools_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print("| contaminating generator | true share | estimate | 95% interval | flagged | seconds |")
    print("|---|---|---|---|---|---|")
    for name, synthetic in sources.items():
        for share in shares:
            pool = make_pool(data.test_images, synthetic, share, args.n, args.seed)
            stem = f"pool_{len(list(out_dir.glob('*.npy')))}_{share:g}"
            np.save(out_dir / f"{stem}.npy", pool.numpy(), allow_pickle=False)
            start = time.perf_counter()
            audit_main(["--pool", str(out_dir / f"{stem}.npy"), "--out", str(out_dir / f"{stem}.json")])
            seconds = time.perf_counter() - start
            s = json.loads((out_dir / f"{stem}.json").read_text())["synthetic_share"]
            print(
                f"| {name} | {share:.2f} | {s['estimate']:.3f} | [{s['low']:.3f}, {s['high']:.3f}] "
                f"| {s['flag_rate']:.3f} | {seconds:.1f} |",
                flush=True,
            )
    print(f"pools and audits in {out_dir}")


if __name__ == "__main__":
    main()
