"""Running, finished or interrupted: what a run folder holds, told apart without trusting a stale file.

results.json says `running` from the first write until the last generation is committed; a run that dies (kill -9,
a lost node) cannot update it. So the writing process holds an exclusive lock (flock) on `<run>/run.lock` for its
whole life: the kernel releases it when the process ends, however it ends. A `running` file whose lock nobody
holds is an interrupted run, and re-running its command resumes it. The lock also stops a second process (two
jobs of a sweep with the same config) from writing the same folder at once.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from bench.errors import BenchError

LOCK_NAME = "run.lock"
STATUSES = ("running", "finished", "interrupted")


class RunLock:
    """Exclusive ownership of a run folder for the life of this process (or until release())."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open on purpose: the lock lives as long as the file
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise BenchError(
                f"run folder {self.path.parent} is being written by {holder}; wait for it or use another run_dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process holds the run folder's lock."""
    path = Path(run_dir) / LOCK_NAME
    if not path.is_file():
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def run_status(run_dir: str | Path, results: dict) -> str:
    """`finished`, `running` (a live process writes it) or `interrupted` (it stopped before the last generation)."""
    if results.get("status") == "finished":
        return "finished"
    return "running" if is_locked(run_dir) else "interrupted"
