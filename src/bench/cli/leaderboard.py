"""`python -m bench.leaderboard PATHS... [--out DIR] [--rank-by SCORE] [--skip-invalid]`

Rank runs: PATHS are run folders, sweep folders (every results.json below them) or results.json files. Writes
leaderboard.md, leaderboard.csv and a self-contained leaderboard.html into DIR (default: the inputs' common
folder, or the current one), one ranked table per track (data set, feature extractor, images scored,
generations), seeds grouped into mean ± 95% Student-t interval, λ* where replay runs allow it; prints a summary.

A results.json that is not strict JSON, breaks the published schema (bench/schema/results.schema.json) or
contradicts itself stops the command with one line, `error: <file>: <field> <problem>`, exit status 2; with
--skip-invalid it is left out with a warning instead. Runs still running or interrupted are left out with a
warning. See bench.analysis.leaderboard.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.analysis.leaderboard import DEFAULT_RANK, build_leaderboard
from bench.cli import arguments
from bench.errors import BenchError
from bench.report.summary import DEFAULT_CLASS_THRESHOLD


@arguments.one_line_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments.Parser(
        prog="python -m bench.leaderboard",
        description=(__doc__ or "\n\n").split("\n", 2)[2],  # the module docstring without its usage line
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or results.json files")
    parser.add_argument("--out", default=None, help="output folder (default: the inputs' common folder)")
    parser.add_argument(
        "--rank-by", default=DEFAULT_RANK, help="summary score that ranks each track (default: %(default)s)"
    )
    parser.add_argument("--skip-invalid", action="store_true", help="leave unusable files out with a warning")
    parser.add_argument(
        "--bootstrap", type=arguments.resamples, default=1000, help="seed-bootstrap resamples for λ*, 0: none"
    )
    parser.add_argument(
        "--class-threshold",
        type=arguments.share,
        default=DEFAULT_CLASS_THRESHOLD,
        help="a class is lost below this share of its real share, in (0, 1] (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        build_leaderboard(
            args.paths,
            out_dir=args.out,
            skip_invalid=args.skip_invalid,
            rank_by=args.rank_by,
            n_resamples=args.bootstrap,
            class_threshold=args.class_threshold,
            echo=print,
        )
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
