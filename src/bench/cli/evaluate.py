"""`python -m bench.evaluate --data mnist --samples PATH`: score anyone's images against the real test set.

PATH is a .npy or .npz array of uint8 images (N, H, W), (N, C, H, W) or (N, H, W, C), or a folder of
PNG files. The numbers are the same metrics, reference set and feature extractor as a bench run uses,
next to the floor (held-out real images scored the same way), so a reader knows what "perfect" is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from bench.cli import arguments
from bench.errors import BenchError
from bench.io.image_files import load_images
from bench.io.writable import check_writable_file

MAX_SEED = arguments.MAX_SEED


def check_arguments(*, seed: int, bootstrap: int, n_samples: int | None) -> None:
    """The numbers of a library call, each refused in one line naming the value and what is allowed (the command
    line's parser refuses them first, in the same words as the other tools: bench.cli.arguments)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise BenchError(f"--seed {seed} is not allowed; allowed: an integer from 0 to 2**63 - 1")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or not 0 <= bootstrap <= 10**7:
        raise BenchError(f"--bootstrap {bootstrap} is not allowed; allowed: 0 (no intervals) or more, at most 10^7")
    if n_samples is not None and (isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1):
        raise BenchError(f"--n-samples {n_samples} is not allowed; allowed: a positive integer")


def evaluate(
    *,
    data: str,
    samples: str | Path,
    seed: int = 0,
    n_samples: int | None = None,
    bootstrap: int = 0,
    cache_dir: str | None = None,
    overrides: list[str] = (),
) -> dict:
    from hydra import compose, initialize_config_dir

    from bench.config import CONF_DIR, check_group_choices
    from bench.data import build_data
    from bench.engine.evaluation import Evaluator
    from bench.seeding import derive_seed, generator

    check_arguments(seed=seed, bootstrap=bootstrap, n_samples=n_samples)
    torch.set_flush_denormal(True)
    check_group_choices([f"data={data}"])
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"data={data}", f"seed={seed}", *overrides])
    dataset = build_data(cfg.data)
    images = load_images(samples, dataset.image_shape)
    n_given = len(images)
    kid_subset = int(cfg.metrics.kid_subset_size)
    if len(images) < kid_subset:
        raise BenchError(
            f"--samples holds {len(images)} images; at least metrics.kid_subset_size={kid_subset} are needed"
        )
    room = len(dataset.test_images) - int(
        cfg.metrics.n_reference
    )  # the floor set comes from test images outside the reference
    n = min(len(images), room) if n_samples is None else int(n_samples)
    if n > len(images):
        raise BenchError(f"--n-samples={n} exceeds the {len(images)} images given")
    if n < len(images):  # score a seeded random subset, never the first n (files are often sorted by class)
        images = images[torch.randperm(len(images), generator=generator(seed, "evaluate_subset"))[:n]]
    cfg.metrics.n_samples = n
    cfg.metrics.bootstrap = int(bootstrap)
    evaluator = Evaluator(dataset, cfg.metrics, cache_dir=cache_dir or cfg.cache_dir, data_cfg=cfg.data)
    return {
        "samples": str(samples),
        "n_given": n_given,
        "n_scored": n,
        "dataset": {"name": dataset.name, "checksum": dataset.checksum},
        "feature_extractor": evaluator.extractor_info,
        "skipped": evaluator.skipped,
        "metrics": evaluator.score_images(images, seed=derive_seed(seed, "eval", "standalone")),
        "floor": evaluator.floor(seed=derive_seed(seed, "floor")),
    }


def format_table(result: dict) -> str:
    from bench.metrics import METRIC_INFO

    rows = [f"{'metric':<22}{'samples':>12}{'floor':>12}  better"]
    for key, value in result["metrics"].items():
        if isinstance(value, (list, dict)) or key.endswith(("_ci_low", "_ci_high")):
            continue
        floor = result["floor"].get(key)
        better = {True: "higher", False: "lower"}.get(METRIC_INFO.get(key, {}).get("higher_is_better"), "")
        ci = ""
        if f"{key}_ci_low" in result["metrics"]:
            ci = f"  [{result['metrics'][f'{key}_ci_low']:.4g}, {result['metrics'][f'{key}_ci_high']:.4g}]"
        rows.append(f"{key:<22}{value:>12.4g}{floor if floor is None else format(floor, '>12.4g')}  {better}{ci}")
    return "\n".join(rows)


@arguments.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = arguments.Parser(prog="python -m bench.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="mnist", help="data set whose test set is the reference (default: mnist)")
    parser.add_argument("--samples", required=True, help=".npy/.npz array of uint8 images, or a folder of PNGs")
    parser.add_argument(
        "--out", help="where to write the metrics JSON (default: ./<samples name>.metrics.json, in this directory)"
    )
    parser.add_argument("--n-samples", type=arguments.positive, help="score a seeded random subset of this many images")
    parser.add_argument(
        "--bootstrap", type=arguments.resamples, default=0, help="bootstrap resamples for 95%% confidence intervals"
    )
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the subset and the scoring")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. metrics.n_reference=8000")
    args = parser.parse_args(argv)
    # by default in the current directory, never beside the samples: those often sit in a run folder, whose files
    # are the run's own record
    out = Path(args.out) if args.out else Path(f"{Path(args.samples).resolve().name}.metrics.json")
    try:
        check_arguments(seed=args.seed, bootstrap=args.bootstrap, n_samples=args.n_samples)
        check_writable_file(out, "--out")  # before the work: scoring takes minutes
        result = evaluate(
            data=args.data,
            samples=args.samples,
            seed=args.seed,
            n_samples=args.n_samples,
            bootstrap=args.bootstrap,
            overrides=args.overrides,
        )
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from bench.io.atomic import write_json

    try:
        write_json(out, result)
    except OSError as e:  # the folder changed since the check (disk full, removed)
        print(f"error: --out {out} cannot be written ({e.strerror or type(e).__name__})", file=sys.stderr)
        return 2
    print(format_table(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
