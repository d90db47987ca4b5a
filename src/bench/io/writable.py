"""Is an output path writable? Asked before any work starts, so a long job never ends in a write that fails.

The check does what the write will do (bench.io.atomic: a temporary file beside the target, then a rename)
in the nearest folder that exists, and removes what it made; root's permission bypass and special file systems
(/proc) are answered by trying, not by os.access.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.errors import BenchError


def check_writable_file(path: str | Path, option: str) -> Path:
    """`path` (a file to be written atomically) can be written; else a one-line BenchError naming `option`."""
    path = Path(path)
    if path.is_dir():
        raise BenchError(f"{option} {path} is a folder; allowed: a file path in a writable folder")
    _probe(path.parent, f"{option} {path}")
    return path


def check_writable_folder(path: str | Path, option: str) -> Path:
    """Files can be written into folder `path` (made if missing); else a one-line BenchError naming `option`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BenchError(f"{option} {path} is not a folder; allowed: a writable folder (made if missing)")
    _probe(path, f"{option} {path}")
    return path


def _probe(folder: Path, what: str) -> None:
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise BenchError(f"{what} cannot be written: {existing} is not a folder; allowed: a path in a writable folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=existing, prefix=".bench-write-check.", suffix=".tmp")
    except OSError as e:
        raise BenchError(
            f"{what} cannot be written: no file can be created in {existing} ({e.strerror or type(e).__name__}); "
            "allowed: a path in a writable folder"
        ) from None
    os.close(fd)
    os.unlink(tmp)
