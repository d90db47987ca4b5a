"""Argument checks shared by the command-line tools, before any work starts.

`Parser` is argparse's parser with argparse's own errors as one line (`error: argument --bootstrap: -5 is
negative; allowed: 0 (no bootstrap) or more resamples`, exit 2), like every BenchError the tools print; the `type=`
functions below refuse a bad value naming it and what is allowed.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

from bench.errors import MAX_SEED, BenchError

Main = TypeVar("Main", bound=Callable[..., int])


def one_line_errors(main: Main) -> Main:
    """A command's `main` whose user-fixable failures end in one line and exit status 2, wherever they happen: a
    BenchError, or an OSError (a full disk, a read-only or vanished folder: every file is written whole or not at
    all, so nothing already written is lost)."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except (BenchError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    return wrapped  # type: ignore[return-value]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (`error: ...`, exit 2), without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {' '.join(message.split())}\n")


def _integer(text: str, allowed: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: {allowed}") from None


def integer_in(minimum: int, maximum: int, allowed: str) -> Callable[[str], int]:
    """An integer in [minimum, maximum]; `allowed` says what is allowed, in words ("0 (none) or more")."""

    def parse(text: str) -> int:
        value = _integer(text, allowed)
        if value < minimum:
            problem = "negative" if value < 0 else "too small"
            raise argparse.ArgumentTypeError(f"{value} is {problem}; allowed: {allowed}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{text.strip()[:30]} is too large; allowed: {allowed}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its own messages
    return parse


UNBOUNDED = 2**63
positive = integer_in(1, UNBOUNDED, "1 or more")
seed = integer_in(0, MAX_SEED, "a seed from 0 to 2**63 - 1")
resamples = integer_in(0, 10**7, "0 (no bootstrap) or more resamples, at most 10^7")


def share(text: str) -> float:
    """A number in (0, 1]: a share of something (the class-loss threshold)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; allowed: a number in (0, 1]") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]; allowed: a number in (0, 1]")
    return value


share.__name__ = "number"


def metric_names(allowed: Callable[[], list[str]]) -> Callable[[str], list[str]]:
    """Comma-separated metric names, at least one, each in `allowed()` (asked when the argument is parsed)."""

    def parse(text: str) -> list[str]:
        names = [m.strip() for m in text.split(",") if m.strip()]
        known = ", ".join(allowed())
        if not names:
            raise argparse.ArgumentTypeError(f"{text!r} names no metric; allowed: one or more of {known}")
        unknown = ", ".join(repr(m) for m in names if m not in allowed())
        if unknown:
            raise argparse.ArgumentTypeError(f"{text!r}: {unknown} not allowed here; allowed: one or more of {known}")
        return list(dict.fromkeys(names))

    parse.__name__ = "metrics"
    return parse


def fail(message: str) -> int:
    """Print a BenchError's message the way every tool does; the exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def folders(text: str) -> list[str]:
    """--outputs: one folder or several separated by commas (outputs,docs/runs: the run folders here and the
    archived results of the published pages); a folder that is not there holds no runs."""
    return [p.strip() for p in text.split(",") if p.strip()]


# where a published page's runs are: this machine's run folders, and the results.json archived in the repository
# (docs/runs: run folders die with the machine that made them); a folder that does not exist is skipped
RUN_FOLDERS = "outputs,docs/runs"


def add_run_folders(parser: argparse.ArgumentParser) -> None:
    """--outputs and --archive, as every command that builds a published page from run folders takes them."""
    parser.add_argument(
        "--outputs",
        default=RUN_FOLDERS,
        help=f"where the run folders are, one or several, comma-separated (default: {RUN_FOLDERS})",
    )
    parser.add_argument(
        "--archive",
        default=None,
        help="copy the results.json of every run the page found to this folder (docs/runs), to ship with the page",
    )


def archive_found(args: argparse.Namespace, found) -> None:
    """With --archive, copy the found runs' results.json there (bench.analysis.archive) and say how many."""
    if args.archive:
        from bench.analysis.archive import archive

        kept = archive(found, Path(args.archive))
        print(f"archived {len(kept)} results.json under {args.archive}")
