"""Run the missing seeds of one configuration: `python -m bench -m <overrides> seed=<missing>` as a subprocess.

Shared by the commands that fill a page from run folders (bench.reproductions, bench.board): the runs are the
documented command itself, so a page's runs are exactly what a user would run, and they land in the usual folders.
"""

from __future__ import annotations

import subprocess  # nosec B404 # runs `python -m bench` itself, an argument list, never a shell
import sys
from collections.abc import Sequence

from bench.errors import BenchError


def run_seeds(name: str, overrides: Sequence[str], seeds: Sequence[int], *, jobs: int = 1) -> None:
    """Run `overrides` at `seeds` (a Hydra multirun; in parallel through joblib when jobs > 1); BenchError naming
    `name` and the command if a run fails."""
    launcher = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"] if jobs > 1 else []
    command = [sys.executable, "-m", "bench", "-m", *overrides, *launcher, f"seed={','.join(map(str, seeds))}"]
    print("running: " + " ".join(command[1:]), flush=True)
    if subprocess.run(command).returncode != 0:  # nosec B603 # sys.executable -m bench, the user's overrides
        raise BenchError(f"the runs of {name} failed: {' '.join(command[1:])}")
