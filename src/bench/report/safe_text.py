"""Text from run folders made safe for the files and terminals people open: CSV cells, markdown, console lines.

Every label, name and reason in a report can come from a results.json someone else wrote, so:

- `csv_cell`: a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return and is not a number gets a
  leading `'`, so a spreadsheet shows it as text instead of running it as a formula (the OWASP CSV-injection
  rule, https://owasp.org/www-community/attacks/CSV_Injection). Numbers (`-3.5`, `+1e-05`) are left alone:
  they read back exactly. `csv_row` applies it to every value of a row.
- `md_text`: text for a markdown table cell or heading: HTML escaped (`html.escape`), `|` escaped as `\\|` so
  the table keeps its shape, backslashes and backticks escaped, line breaks flattened to spaces.
- `console_text`: control characters (line breaks, tabs and terminal escape sequences) replaced by `?`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_number_text(text: str) -> bool:
    """A plain decimal number as Python or a spreadsheet writes it (`-3`, `+0.5`, `1e-05`); no inf, nan or `_`."""
    return _NUMBER.fullmatch(text) is not None


def csv_cell(value: Any) -> Any:
    """`value` unchanged unless it is text a spreadsheet would run as a formula: then `'` + value."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not is_number_text(value):
        return "'" + value
    return value


def csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """`csv_cell` of every value of a csv.DictWriter row."""
    return {k: csv_cell(v) for k, v in row.items()}


def md_text(text: str) -> str:
    """`text` for a markdown table cell or heading: shown as written, never as HTML, never splitting the table."""
    text = text.replace("\\", "\\\\")
    text = html.escape(text)
    text = text.replace("|", "\\|").replace("`", "\\`")
    return re.sub(r"[\r\n]+", " ", text)


def console_text(text: str) -> str:
    """`text` for a terminal: control characters (escape sequences among them) as `?`."""
    return _CONTROL.sub("?", text)
