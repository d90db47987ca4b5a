"""The one reader of every JSON file the benchmark reads: strict JSON (no NaN, no infinities, no `1e999`, no
integer beyond 2^63, no duplicate key), UTF-8, size-capped; every problem one line naming the file and the field.

Lower than every part (features read their metadata with it, report its run folders, analysis every results.json).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.errors import BenchError

# the largest integer magnitude read (a seed is at most 2^63); a longer digit string is refused before int() sees it
MAX_INT = 2**63
MAX_FILE_BYTES = 256 * 2**20  # a results.json of 1000 classes x 100 generations is a few MB


class _Refused:
    """A value the hooks below would not turn into a number; reported with its JSON path after parsing."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _short(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:10]}...{literal[-4:]} ({len(literal)} characters)"


def _constant(literal: str) -> _Refused:  # NaN, Infinity, -Infinity
    return _Refused(f"is {literal}, which is not JSON (write null)")


def _float(literal: str) -> float | _Refused:
    value = float(literal)
    if not math.isfinite(value):  # 1e999: valid JSON syntax, but no double holds it
        return _Refused(f"is {_short(literal)}, which overflows a 64-bit float (write null)")
    return value


def _int(literal: str) -> int | _Refused:
    digits = literal.lstrip("-")
    if len(digits) > 19 or abs(int(literal)) > MAX_INT:  # 19 digits: every |int| <= 2^63 has at most 19
        return _Refused(f"is {_short(literal)}, outside the integers allowed (|x| <= 2^63)")
    return int(literal)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {_short(k)!r}")
        out[k] = v
    return out


def json_path(parts: Iterable[str | int]) -> str:
    """`generations[2].metrics.fid` from ("generations", 2, "metrics", "fid"); "(top level)" when empty."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _find_refused(x: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    if isinstance(x, _Refused):
        return json_path(path), x.problem
    items: Iterable[tuple[str | int, Any]] = ()
    if isinstance(x, dict):
        items = x.items()
    elif isinstance(x, list):
        items = enumerate(x)
    for k, v in items:
        found = _find_refused(v, (*path, k))
        if found:
            return found
    return None


def parse_strict_json(text: str) -> Any:
    """JSON as RFC 8259 has it, every number a finite double or an integer with |x| <= 2^63: a NaN / Infinity
    literal, an overflowing float (1e999), a huge integer or a duplicate key is a ValueError naming the field
    (`generations[2].metrics.fid is 1e999, which overflows a 64-bit float`); bad syntax is a json.JSONDecodeError."""
    doc = json.loads(
        text, parse_constant=_constant, parse_float=_float, parse_int=_int, object_pairs_hook=_no_duplicates
    )
    found = _find_refused(doc)
    if found:
        where, problem = found
        raise ValueError(f"{where} {problem}")
    return doc


def read_strict_json(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The one reader of a JSON file the benchmark did not just write itself in this process: strict JSON
    (parse_strict_json), UTF-8, at most `max_bytes`. Any problem is a BenchError, one line naming the file
    and the field: `other/results.json: generations[2].metrics.fid is NaN, which is not JSON (write null)`."""
    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise BenchError(f"{path}: larger than {max_bytes >> 20} MiB, not a file this benchmark wrote")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise BenchError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise BenchError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        return parse_strict_json(text)
    except json.JSONDecodeError as e:
        raise BenchError(f"{path}: not JSON ({e.msg}: line {e.lineno} column {e.colno})") from None
    except (ValueError, RecursionError) as e:  # RecursionError: thousands of nested brackets
        problem = str(e) if isinstance(e, ValueError) else "nested too deeply"
        raise BenchError(f"{path}: {problem}") from None


def read_json(path: str | Path) -> dict | None:
    """A JSON object file read strictly (read_strict_json); None when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    doc = read_strict_json(path)
    if not isinstance(doc, dict):
        raise BenchError(f"{path}: holds {type(doc).__name__}, expected a JSON object")
    return doc
