"""`python -m bench.submit RUN_DIRS... --out entry.json`: pack finished runs under one protocol into a leaderboard
entry (bench.analysis.entries): each run's results.json text and sha256, the protocol, the models and the date.

Every run is read as the leaderboard reads it (strict JSON, the published schema, self-consistency) and checked
against the package's own copy of its protocol first: a run under no protocol, an unfinished one, or one that
changed a fixed key is refused in one line, and no entry is written. `python -m bench.leaderboard entry.json`
ranks the entry exactly as it ranks the run folders.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bench.cli import arguments


@arguments.one_line_errors
def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments.Parser(prog="python -m bench.submit", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or results.json files")
    parser.add_argument("--out", required=True, help="the entry file to write (.json)")
    args = parser.parse_args(argv)

    import json

    import bench
    from bench.analysis.aggregate import InvalidResults, checked_results, find_results
    from bench.analysis.entries import pack
    from bench.errors import BenchError
    from bench.io.atomic import write_text
    from bench.io.strict_json import parse_strict_json
    from bench.io.writable import check_writable_file

    try:
        if not args.out.endswith(".json"):
            raise BenchError(f"--out={args.out!r} must name a .json file")
        check_writable_file(args.out, "--out")
        runs = []
        for path in find_results(args.paths):
            text = path.read_bytes().decode("utf-8")
            doc = checked_results(parse_strict_json(text), str(path))
            if not doc["config"].get("protocol"):
                raise BenchError(f"{path}: run under no protocol; run it with protocol=<name> (conf/protocol/)")
            if doc["status"] != "finished":
                raise BenchError(f"{path}: status {doc['status']}; only finished runs can be submitted")
            runs.append((path, text, doc))
        entry = pack(runs, bench_version=bench.__version__)
    except (BenchError, InvalidResults) as e:
        return arguments.fail(str(e))
    except (ValueError, UnicodeDecodeError) as e:
        return arguments.fail(f"a results.json is not strict UTF-8 JSON: {e}")
    write_text(Path(args.out), json.dumps(entry, indent=1) + "\n")
    print(f"wrote {args.out}: {len(runs)} run(s) of protocol {entry['protocol']['name']}, models {entry['models']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
