"""Does sampling with more DDIM steps make a DDPM's samples better or worse, and which scheduler setting decides?

    python benchmarks/ddim_steps.py RUN_DIR [generation=0] [steps=10,20,50,100,250] [device=cuda]

Resamples a saved generation (`bench.cli.resample`, nothing retrained) at each step count under each
combination of `timestep_spacing` (leading: diffusers' default, trailing) and `clip_sample`, and prints
FID / recall / coverage / classes per setting, then one JSON line. Every row uses the same seeded noise.
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import torch
from omegaconf import OmegaConf

from bench.cli.resample import resample
from bench.engine.real_side import real_side
from bench.io.strict_json import read_json


def main(argv: list[str]) -> None:
    run_dir, opts = argv[0], dict(a.split("=", 1) for a in argv[1:])
    generation = int(opts.get("generation", 0))
    steps = [int(s) for s in opts.get("steps", "10,20,50,100,250").split(",")]
    spacings = opts.get("spacing", "leading,trailing").split(",")
    clips = [c == "true" for c in opts.get("clip", "true,false").split(",")]
    torch.set_flush_denormal(True)
    cfg = OmegaConf.create(read_json(f"{run_dir}/results.json")["config"])
    real = real_side(cfg)
    rows = []
    print(f"{'spacing':>9}{'clip':>6}{'steps':>6}{'fid':>9}{'recall':>8}{'coverage':>9}{'classes':>8}{'sample s':>9}")
    for spacing, clip, n in itertools.product(spacings, clips, steps):
        start = time.perf_counter()
        changed = {"sampler": "ddim", "eta": 0.0, "steps": n, "timestep_spacing": spacing, "clip_sample": clip}
        m = resample(run_dir, generation, changed, device=opts.get("device"), real=real)["metrics"]
        row = {"spacing": spacing, "clip_sample": clip, "steps": n, **{k: m[k] for k in ("fid", "recall", "coverage")}}
        row.update(classes=m["classes_covered"], seconds=time.perf_counter() - start)
        rows.append(row)
        print(
            f"{spacing:>9}{clip!s:>6}{n:>6}{row['fid']:>9.1f}{row['recall']:>8.3f}{row['coverage']:>9.3f}"
            f"{row['classes']:>8}{row['seconds']:>9.1f}",
            flush=True,
        )
    print(json.dumps({"run_dir": run_dir, "generation": generation, "rows": rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
