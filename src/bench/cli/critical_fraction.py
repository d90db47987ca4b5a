"""`python -m bench.critical_fraction PATHS... [--metrics ...] [--bootstrap B] [--json]`: the critical real fraction λ*.

How much real data must each generation replay so that retraining does not degrade the model? Given `loop=replay`
runs over a grid of `loop.real_fraction` values λ, several seeds each (PATHS: run folders, sweep folders or
results.json files, read and checked as the leaderboard reads them):

- A *family* is the runs of one track whose configs are equal except for seed, λ and the loop kind. `loop=real`
  (a fresh real draw each generation, the control) counts as λ = 1 and `loop=replace` (fully synthetic) as λ = 0
  when its synthetic_size equals data.n_train; a replay run at the same λ takes precedence over either.
- λ *passes* when, for every metric in CRITICAL_METRICS (fid, precision, recall, coverage, classes_covered; the
  ones with a direction in METRIC_INFO), the mean over seeds at every generation t = 1 .. T-1 stays on the good
  side of its generation-0 interval: at most its upper end for a lower-is-better metric (FID), at least its lower
  end for a higher-is-better one. Only the bad side counts: a curve that improves beyond its generation-0
  interval (more real data, more training) has not collapsed. A λ with fewer than two seeds has no interval and
  is left undecided.
- The generation-0 interval is the 95% interval in which the mean of generation t's n_t seeds falls when nothing
  changed since generation 0: mean_0 ± q · s_0 · sqrt(1/n_0 + 1/n_t), s_0 the standard deviation of the n_0
  generation-0 values and q the Student-t quantile (n_0 - 1 degrees of freedom) at 1 - 0.05 / (2m), m = (number of
  metrics) x (T - 1) checks (Bonferroni). So a fraction whose runs do not change at all (λ = 1 replays D_0 alone)
  passes with probability at least 95%. The plain 95% interval of the generation-0 mean is far narrower: it
  ignores the noise of generation t's own mean and the m checks, and on the default VAE it failed λ = 1 (no
  synthetic data at all) at 3 and at 5 seeds, on FID points within the seed-to-seed spread.
- λ* is the smallest grid value that passes *and above which every decided grid value passes too* (a failure
  above a pass is read as noise at the lower value, and is reported). No λ* when the largest decided value fails.
- Its interval, two ways: the grid bracket (λ_fail, λ*], λ_fail the next lower decided value (which failed),
  None when λ* is the smallest value tried; and a seed bootstrap: B resamples (default 1000, seeded) of the
  seeds with replacement, the same resampled seed list for every λ when all λ share their seeds (gen 0 of a seed
  is the same model at every λ), everything (gen-0 intervals and curve means) recomputed; resamples in which a
  λ gets fewer than two distinct seeds are redrawn (no interval from one seed). Reported: the 2.5 and 97.5
  percentiles (nearest rank) of the bootstrap λ*, the share of resamples with no λ*, and the distribution of λ*
  over the grid. With 3 seeds there are only 10 distinct resamples: read the bootstrap as a stability check
  and the bracket as the interval.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bench.analysis.aggregate import load_runs
from bench.analysis.critical_fraction import CRITICAL_METRICS, critical_fractions, directed_metrics, report
from bench.cli import arguments
from bench.errors import BenchError


@arguments.one_line_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments.Parser(
        prog="python -m bench.critical_fraction",
        description=(__doc__ or "\n\n").split("\n", 2)[2],  # the definitions; the usage line is argparse's own
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or results.json files")
    parser.add_argument(
        "--metrics",
        type=arguments.metric_names(directed_metrics),
        default=list(CRITICAL_METRICS),
        help=f"comma-separated metrics with a better direction (default: {','.join(CRITICAL_METRICS)})",
    )
    parser.add_argument("--bootstrap", type=arguments.resamples, default=1000, help="seed-bootstrap resamples, 0: none")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the bootstrap (0 or more)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--skip-invalid", action="store_true", help="skip unusable files with a warning")
    args = parser.parse_args(argv)
    try:
        runs = load_runs(args.paths, skip_invalid=args.skip_invalid)
        found = critical_fractions(runs, metrics=args.metrics, n_resamples=args.bootstrap, seed=args.seed)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps([c.as_dict() for c in found], indent=2) if args.json else report(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
