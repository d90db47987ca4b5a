"""Keep the results.json of the runs a published page rests on inside the repository (docs/runs/).

Run folders live in outputs/, which git ignores, on whatever machine made them; a page made from them can then be
neither checked nor extended once that machine is gone, and a board that takes several sessions of CPU is lost
with every session that cannot finish it. `--archive docs/runs` on `python -m bench.board` or
`python -m bench.reproductions` copies, byte for byte, the results.json of every run the page found (nothing else:
every page reads only results.json; no checkpoints, no images) to `<dest>/<entry or arm key>/seed<seed>/results.json`.
`--outputs outputs,docs/runs` then finds a run wherever it lies, and a byte-identical copy of a run beside its run
folder is read once (aggregate.load_runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bench.analysis.reproductions.evidence import ArmRuns
from bench.io.atomic import write_bytes


def archive(found: Mapping[str, ArmRuns], dest: Path) -> list[Path]:
    """Copy each found run's results.json under `dest`; return the files written (those already there, byte for
    byte, are left as they are). A key's '/' makes a folder: vae/accumulate/seed0/results.json."""
    written = []
    for key, arm_runs in found.items():
        for seed, run in sorted(arm_runs.runs.items()):
            target = Path(dest) / key / f"seed{seed}" / "results.json"
            data = run.path.read_bytes()
            if target.is_file() and target.read_bytes() == data:
                continue
            write_bytes(target, data)
            written.append(target)
    return written
