"""Where a run's time goes: seconds per generation in training, sampling and scoring, from finished run folders.

    python benchmarks/generation_costs.py outputs/mnist-vae-replace outputs/mnist-vae-accumulate ...

Reads each results.json under the paths (bench.analysis.aggregate, strict and schema-checked) and prints, per
configuration (seeds pooled), the mean seconds a generation spent in each phase, the share of training, the
seconds of the first and the last generation (a loop whose data grows, such as accumulate, trains longer each
generation) and the total per run. The seconds are the run's own timers (`generations[t].seconds`), on whatever
machine and thread count the run records (printed beside).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from bench.analysis.aggregate import group_runs, load_runs


def phases(results: dict) -> list[dict[str, float]]:
    return [{k: float(v) for k, v in (g.get("seconds") or {}).items()} for g in results["generations"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    runs = load_runs(args.paths, skip_invalid=True)
    rows = []
    for groups in group_runs(runs).values():
        for g in groups:
            per_phase: dict[str, list[float]] = defaultdict(list)
            first, last, totals = [], [], []
            for r in g.runs:
                gens = phases(r.results)
                for sec in gens:
                    for k, v in sec.items():
                        per_phase[k].append(v)
                first.append(sum(gens[0].values()))
                last.append(sum(gens[-1].values()))
                totals.append(sum(sum(s.values()) for s in gens))
            env = g.runs[0].results.get("environment") or {}
            mean = {k: sum(v) / len(v) for k, v in per_phase.items()}
            whole = sum(mean.values())
            rows.append(
                (
                    g.label,
                    len(g.runs),
                    len(g.runs[0].results["generations"]),
                    mean.get("train", 0.0),
                    mean.get("sample", 0.0),
                    mean.get("eval", 0.0),
                    mean.get("train", 0.0) / whole if whole else 0.0,
                    sum(first) / len(first),
                    sum(last) / len(last),
                    sum(totals) / len(totals) / 60,
                    f"{env.get('device', '?')}, {env.get('torch_threads', '?')} thread(s)",
                )
            )
    print(
        "| entry | seeds | generations | train s/gen | sample s/gen | score s/gen | train share | first gen s "
        "| last gen s | min a run | machine |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.0%} | {r[7]:.1f} | "
            f"{r[8]:.1f} | {r[9]:.1f} | {r[10]} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
