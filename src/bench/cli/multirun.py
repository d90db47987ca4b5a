"""Run the missing seeds of several configurations, `jobs` runs at a time: `python -m bench <overrides> seed=S`.

Shared by the commands that fill a page from run folders (bench.reproductions, bench.board): the runs are the
documented command itself, so a page's runs are exactly what a user would run, and they land in the folders a
multirun of the same config uses (conf/config.yaml's hydra.run.dir and hydra.sweep.subdir name the same folder).

Why one run per seed and not a multirun per configuration: a page's configurations have 3 seeds, and a joblib
multirun of 3 seeds on 2 jobs runs its third seed alone, one core idle for a whole run before the next
configuration starts (a third of the page's wall time). Pooling every (configuration, seed) keeps `jobs` runs going
until the last ones.
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 # runs `python -m bench` itself, an argument list, never a shell
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.errors import BenchError


@dataclass(frozen=True)
class Missing:
    """The seeds of one configuration that have no finished run: `name` (an entry or arm key) is for messages."""

    name: str
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]


def commands(todo: Sequence[Missing]) -> list[tuple[str, list[str]]]:
    """(name, argument list) of each run, configuration by configuration, seeds in order."""
    return [(m.name, [sys.executable, "-m", "bench", *m.overrides, f"seed={s}"]) for m in todo for s in m.seeds]


def thread_env(jobs: int) -> dict[str, str]:
    """The runs' environment: with several at once, each gets cores / jobs OpenMP threads (as joblib gives its
    workers) unless the caller chose a count; competing OpenMP threads slowed small-batch training tenfold here.
    `trainer.num_threads=N` among the overrides still wins (bench.engine.run sets it)."""
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def run_missing(todo: Sequence[Missing], *, jobs: int = 1) -> None:
    """Run every missing (configuration, seed), `jobs` at a time. After a failed run no new run starts; the ones
    going finish (each resumes on the next call anyway), then BenchError names the first failure's config and
    command."""
    runs = commands(todo)
    env = thread_env(jobs)
    failed: list[tuple[str, list[str]]] = []
    lock = threading.Lock()

    def one(name: str, command: list[str]) -> None:
        with lock:
            if failed:
                return
            print("running: " + " ".join(command[1:]), flush=True)
        code = subprocess.run(command, env=env).returncode  # nosec B603 # sys.executable -m bench, our overrides
        if code != 0:
            with lock:
                failed.append((name, command))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(one, name, command) for name, command in runs]:
            future.result()
    if failed:
        name, command = failed[0]
        raise BenchError(f"the runs of {name} failed: {' '.join(command[1:])}")
