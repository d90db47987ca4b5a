"""The one error type users see: a one-line message naming the bad value and what is allowed."""


class BenchError(Exception):
    """A user-facing error. `python -m bench` prints `error: <message>` and exits 2, no traceback."""
