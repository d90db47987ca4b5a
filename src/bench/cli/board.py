"""Regenerate the published board: python -m bench.board [--run MODELS] [--jobs 2] [OVERRIDES]

Every model in conf/model/ under every mitigation (bench.analysis.board), on one protocol (default mnist-v1), with
the protocol's seeds. --run runs the missing seeds of the named models' entries first (`python -m bench ...
seed=S`, --jobs runs at a time across entries; finished runs are found by their config, never rerun); the others
are read as they are, and an entry without all its seeds is listed as not run with its command. Writes
docs/leaderboard.md and docs/leaderboard.html.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.cli import arguments

# what the page lists of the protocol (the keys a reader compares against), in this order
PROTOCOL_KEYS = (
    "protocol.version",
    "data.name",
    "protocol.data_checksum",
    "data.n_train",
    "loop.generations",
    "loop.synthetic_size",
    "metrics.n_samples",
    "metrics.n_reference",
    "protocol.extractor",
    "protocol.extractor_sha256",
    "health.max_fid_over_floor",
    "health.min_classes_covered",
    "protocol.seeds",
)


@arguments.one_line_errors
def main(argv: list[str] | None = None) -> int:
    from bench.analysis.board import PROTOCOL

    parser = arguments.Parser(prog="python -m bench.board", description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", default=PROTOCOL, help=f"the protocol (conf/protocol/; default {PROTOCOL})")
    parser.add_argument("--run", default="", help="run the missing seeds of these models' entries, e.g. vae,gaussian")
    parser.add_argument("--models", default=None, help="only these models on the page (default: all of conf/model/)")
    parser.add_argument("--mitigations", default=None, help="only these mitigations (default: all)")
    arguments.add_run_folders(parser)
    parser.add_argument("--out-dir", default="docs", help="where leaderboard.md and .html go (default: docs)")
    parser.add_argument(
        "--jobs", type=arguments.positive, default=1, help="runs at a time, across entries and seeds (1 or more)"
    )
    parser.add_argument("overrides", nargs="*", help="extra overrides for every run, e.g. trainer.num_threads=1")
    args = parser.parse_args(argv)

    from bench.errors import BenchError

    try:
        written = _build(args)
    except BenchError as e:
        return arguments.fail(str(e))
    print(f"wrote {', '.join(map(str, written))}")
    return 0


def _build(args) -> list[Path]:
    from bench import protocol as protocols
    from bench.analysis import board as published
    from bench.analysis.board_page import to_html, to_markdown
    from bench.cli.multirun import Missing, run_missing
    from bench.errors import BenchError
    from bench.io.atomic import write_text
    from bench.io.writable import check_writable_folder

    if args.protocol not in protocols.names():
        raise BenchError(f"--protocol={args.protocol!r} is not a protocol; allowed: {', '.join(protocols.names())}")
    models = published.pick(args.models, published.MODELS, "--models")
    mitigations = published.pick(args.mitigations, published.MITIGATIONS, "--mitigations")
    to_run = published.pick(args.run, published.MODELS, "--run") if args.run else []
    out = check_writable_folder(args.out_dir, "--out-dir")  # before the runs: they take hours
    seeds = published.protocol_seeds(args.protocol)
    board_entries = published.entries(args.protocol, models, mitigations)
    found = published.find(arguments.folders(args.outputs), board_entries, seeds, args.overrides)
    todo = [
        Missing(e.key, (*e.arm.overrides, *args.overrides), missing)
        for e in board_entries
        if e.model in to_run and (missing := tuple(s for s in seeds if s not in found[e.key].runs))
    ]
    if todo:  # read the run folders again only when runs were added to them
        run_missing(todo, jobs=args.jobs)
        found = published.find(arguments.folders(args.outputs), board_entries, seeds, args.overrides)
    arguments.archive_found(args, found)
    board = published.build(found, board_entries, seeds, args.protocol)
    reference = protocols.reference(args.protocol)
    lines = [f"{k} = {reference[k]}" for k in PROTOCOL_KEYS if k in reference]
    page = dict(command=" ".join(_command(args)), made=datetime.now(UTC).strftime("%Y-%m-%d"), protocol_lines=lines)
    written = [out / "leaderboard.md", out / "leaderboard.html"]
    write_text(written[0], to_markdown(board, extra=args.overrides, **page))
    write_text(written[1], to_html(board, extra=args.overrides, **page))
    return written


def _command(args) -> list[str]:
    """The command that rebuilds the page from the same runs (--run left out: the runs exist by then)."""
    from bench.analysis.board import PROTOCOL

    words = ["python -m bench.board"]
    for flag, value, default in (
        ("--protocol", args.protocol, PROTOCOL),
        ("--models", args.models, None),
        ("--mitigations", args.mitigations, None),
        ("--outputs", args.outputs, arguments.RUN_FOLDERS),
        ("--out-dir", args.out_dir, "docs"),
    ):
        if value != default:
            words += [flag, value]
    return words + list(args.overrides)


if __name__ == "__main__":
    sys.exit(main())
