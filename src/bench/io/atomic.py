"""Write-then-rename, so a crash (even kill -9) never leaves a half-written file behind."""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: the permissions a plain open() would give


def write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp's private 0600 would make run folders unreadable to others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def torch_bytes(obj) -> bytes:
    """What torch.save writes (tensors and plain containers: what `torch.load(weights_only=True)` reads)."""
    import torch  # on use: the leaderboard reads run folders without importing torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def npy_bytes(array) -> bytes:
    """A .npy file's bytes (never pickled); `array` a numpy array or a CPU tensor."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def json_text(obj) -> str:
    """Strict JSON: non-finite floats (an infinite KL, an undefined interval) become null, which every parser reads."""
    return json.dumps(finite_or_none(obj), indent=2, sort_keys=False, default=_jsonable, allow_nan=False) + "\n"


def write_json(path: Path, obj) -> None:
    write_text(path, json_text(obj))


def finite_or_none(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


def _jsonable(x):
    if hasattr(x, "item"):  # numpy / torch scalars
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")
