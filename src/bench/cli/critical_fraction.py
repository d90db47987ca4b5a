"""`python -m bench.critical_fraction PATHS... [--metrics ...] [--bootstrap B] [--json]`: λ* of replay runs.

The definitions (printed by --help) are those of bench.analysis.critical_fraction.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bench.analysis import critical_fraction as definitions
from bench.analysis.aggregate import load_runs
from bench.analysis.critical_fraction import CRITICAL_METRICS, critical_fractions, directed_metrics, report
from bench.cli import arguments
from bench.errors import BenchError


@arguments.one_line_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments.Parser(
        prog="python -m bench.critical_fraction",
        description=(definitions.__doc__ or "\n\n").split("\n", 2)[2],  # usage: argparse's own
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
