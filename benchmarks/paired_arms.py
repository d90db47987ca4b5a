"""Two arms of runs, generation by generation: each arm's mean over seeds and their difference paired by seed.

    python benchmarks/paired_arms.py --a RUN [RUN ...] --b RUN [RUN ...] [--names frozen,retrain] [--metrics fid,recall]

--a and --b name each arm's run folders (one per seed, or folders above them; read through the leaderboard's
strict loader). Every cell is the mean over seeds ± the half-width of its 95% Student-t interval;
the difference B − A pairs the two arms' runs of one seed (same D_0, same generation 0 where the arms share it),
so a seed's own luck cancels. Prints a markdown table, and the seconds a generation took in each arm.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.aggregate import Estimate, estimate, load_runs
from bench.report.summary import number


def cell(e: Estimate, digits: int) -> str:
    if e.mean is None:
        return "n/a"
    if e.half_width is None:
        return f"{e.mean:.{digits}f}"
    return f"{e.mean:.{digits}f} ± {e.half_width:.{digits}f}"


def by_seed(paths: list[Path]) -> dict[int, dict]:
    return {run.seed: run.results for run in load_runs(paths, skip_invalid=True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, nargs="+", required=True)
    parser.add_argument("--b", type=Path, nargs="+", required=True)
    parser.add_argument("--names", default="A,B")
    parser.add_argument("--metrics", default="fid,recall,coverage,precision,classes_covered")
    args = parser.parse_args(argv)
    name_a, name_b = args.names.split(",")
    a, b = by_seed(args.a), by_seed(args.b)
    seeds = sorted(a.keys() & b.keys())
    gens = min(len(r["generations"]) for r in [*a.values(), *b.values()])
    print(f"seeds {', '.join(map(str, seeds))}; {gens} generations\n")
    head = "| metric | arm | " + " | ".join(f"gen {t}" for t in range(gens)) + " |"
    print(head)
    print("|---|---|" + "---|" * gens)

    def value(results: dict, metric: str, t: int) -> float | None:
        return number(results["generations"][t]["metrics"].get(metric))

    for metric in args.metrics.split(","):
        digits = 1 if metric == "fid" else 3
        for name, arm in ((name_a, a), (name_b, b)):
            cells = [cell(estimate(value(arm[s], metric, t) for s in seeds), digits) for t in range(gens)]
            print(f"| {metric} | `{name}` | " + " | ".join(cells) + " |")
        diffs = []
        for t in range(gens):
            pairs = [(value(b[s], metric, t), value(a[s], metric, t)) for s in seeds]
            diffs.append(cell(estimate(None if x is None or y is None else x - y for x, y in pairs), digits))
        print(f"| {metric} | {name_b} − {name_a}, paired | " + " | ".join(diffs) + " |")
    for name, arm in ((name_a, a), (name_b, b)):
        for phase in ("train", "sample"):
            cells = [cell(estimate(arm[s]["generations"][t]["seconds"][phase] for s in seeds), 0) for t in range(gens)]
            print(f"| seconds {phase} | `{name}` | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
