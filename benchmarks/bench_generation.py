"""Time and memory of one collapse generation with the default config: train, sample, evaluate.

    python benchmarks/bench_generation.py [overrides ...]     e.g. trainer.num_threads=1

Runs `bench.engine.run.run` for two generations in a temporary folder (gen 0 on real data, gen 1 on its
samples; the real-side cache is warmed first so it is not counted) and prints seconds per phase,
images per second and the process's peak resident memory. Not a test: wall-clock numbers depend on
the machine and on whatever else is running.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time

from hydra import compose, initialize_config_dir

from bench.__main__ import CONF_DIR
from bench.engine.run import run


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = [
            f"run_dir={tmp}/warm",
            "loop.generations=1",
            "trainer.max_epochs=1",
            "trainer.max_steps=-1",
            "data.n_train=200",
            "trainer.enable_progress_bar=false",
        ]
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            warm = compose("config", overrides=[*overrides, *base])
            cfg = compose(
                "config",
                overrides=[*overrides, f"run_dir={tmp}/run", "loop.generations=2", "trainer.enable_progress_bar=false"],
            )
        run(warm)  # fills the real-side cache (test-set features, reference statistics)
        start = time.perf_counter()
        results = run(cfg)
        total = time.perf_counter() - start
    n, epochs, steps = cfg.data.n_train, cfg.trainer.max_epochs, cfg.trainer.get("max_steps", -1)
    print(
        f"config: n_train={n} epochs={epochs} max_steps={steps} batch={cfg.trainer.batch_size} model={cfg.model.name} "
        f"channels={list(cfg.model.channels)} n_samples={cfg.metrics.n_samples} sampling={dict(cfg.sampling)}"
    )
    print(f"{'gen':>4}{'train s':>10}{'train img/s':>13}{'sample s':>10}{'sample img/s':>14}{'eval s':>9}")
    for g in results["generations"]:
        s, c = g["seconds"], g["counts"]
        print(
            # images seen in training: steps x batch when training by steps, else epochs x |D_t|
            f"{g['generation']:>4}{s['train']:>10.1f}"
            f"{(steps * cfg.trainer.batch_size if steps > 0 else c['total'] * epochs) / s['train']:>13.0f}"
            f"{s['sample']:>10.2f}{c['sampled'] / s['sample']:>14.0f}{s['eval']:>9.2f}"
        )
    gens = len(results["generations"])
    print(f"total {total:.1f} s for {gens} generations ({total / gens:.1f} s per generation, start-up included)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(
        json.dumps(
            {
                "seconds_per_generation": total / gens,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
