"""The one error type users see, and the checks that raise it.

A BenchError is one line naming the bad value and what is allowed.
"""


class BenchError(Exception):
    """A user-facing error. `python -m bench` prints `error: <message>` and exits 2, no traceback."""


def check_positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value <= 0:
        raise BenchError(f"{name}={value} must be a positive integer")
    return int(value)


MAX_SEED = 2**63 - 1  # what results.json's schema and numpy's SeedSequence accept


def check_seed(name: str, value) -> int:
    """A seed: an integer in [0, 2^63 - 1] (a negative or larger one fails later, deep in numpy or the schema)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise BenchError(f"{name}={value} must be an integer in [0, 2^63 - 1]")
    return value


def check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise BenchError(f"{name}={value} is outside the allowed range [0, 1]")
    return float(value)


class Diverged(BenchError):
    """A training or sampling produced a non-finite number; the message says where ("at step 12: loss nan").

    The generation loop names the generation and commits nothing of it (bench.engine.run)."""
