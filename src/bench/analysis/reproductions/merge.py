"""Rebuild some claims of a reproductions page and keep the others' sections as the page has them.

A page's claims can rest on runs made on different machines and days (the diffusion arms take hours); when one
claim's runs are here and the others' are not, `python -m bench.reproductions --claims K --keep-others` rebuilds
K alone and copies every other claim's verdict row and section, word for word, from the page as it is. The page's
header then lists the runs of both (its setup and machine lines are the union) and names the command, so a reader
sees which sections were kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import BenchError

_ANCHOR = re.compile(r'^<a id="([^"]+)"></a>$', re.M)
_ROW = re.compile(r"^\| \[[^\]]*\]\(#([^)]+)\) \|")
_SETUPS = "The runs, as their results.json files say:"
_MACHINE = "Machine: "
_REBUILT = "Rebuilt by this command:"
_NO_SETUP = "- none yet"  # what render() lists when no run is found


@dataclass
class Page:
    """A reproductions page cut at its seams: the header (up to the verdict table), the table's rows and the
    claims' sections, both by anchor, in the page's order."""

    header: list[str]
    rows: dict[str, str]
    sections: dict[str, str]

    @property
    def setups(self) -> list[str]:
        start = self.header.index(_SETUPS) + 1
        return [line for line in self.header[start:] if line.startswith("- ") and line != _NO_SETUP]

    @property
    def machines(self) -> list[str]:
        line = next((h for h in self.header if h.startswith(_MACHINE)), _MACHINE + "no runs yet.")
        return [m for m in line[len(_MACHINE) :].rstrip(".").split("; ") if m != "no runs yet"]

    @property
    def extra(self) -> str | None:
        return next((h for h in self.header if h.startswith("Extra overrides on every run:")), None)


def split(text: str, what: str) -> Page:
    """The page's parts; a page that is not one of ours (no verdict table, no sections) is refused."""
    first = _ANCHOR.search(text)
    if first is None or _SETUPS not in text:
        raise BenchError(f"{what} is not a reproductions page (no claim sections); rebuild it without --keep-others")
    top = text[: first.start()].rstrip("\n").split("\n")
    table = next((i for i, line in enumerate(top) if line.startswith("| claim | source | verdict |")), None)
    if table is None:
        raise BenchError(f"{what} has no verdict table; rebuild it without --keep-others")
    rows = {m.group(1): line for line in top[table + 2 :] if (m := _ROW.match(line))}
    anchors = list(_ANCHOR.finditer(text))
    sections = {
        a.group(1): text[a.start() : (anchors[i + 1].start() if i + 1 < len(anchors) else len(text))].rstrip("\n")
        for i, a in enumerate(anchors)
    }
    return Page(top[:table], rows, sections)


def merge(old_text: str, new_text: str, order: Sequence[str], rebuilt: Sequence[str], what: str) -> str:
    """The page with the claims `rebuilt` (anchors) from `new_text` and every other claim of `order` from
    `old_text`; the header is the new one with the setups and machines of both."""
    old, new = split(old_text, what), split(new_text, "the rebuilt page")
    kept = [a for a in order if a not in rebuilt]
    lacking = [a for a in kept if a not in old.sections or a not in old.rows]
    if lacking:
        raise BenchError(f"{what} has no section for {', '.join(lacking)} to keep; rebuild it without --keep-others")
    if kept and old.extra != new.extra:
        raise BenchError(
            f"{what} was made with other extra overrides ({old.extra or 'none'}) than this rebuild "
            f"({new.extra or 'none'}); its kept sections would not match: rebuild it without --keep-others"
        )
    header = _header(new, old)
    if kept:
        header += [
            f"{_REBUILT} {', '.join(f'[{a}](#{a})' for a in rebuilt)}. The other sections are kept word "
            "for word from the page as it was, with the runs they were made from.",
            "",
        ]
    rows = [(new if a in rebuilt else old).rows[a] for a in order]
    sections = [(new if a in rebuilt else old).sections[a] for a in order]
    table = ["| claim | source | verdict |", "|---|---|---|", *rows]
    return "\n".join([*header, *table, "", "\n\n".join(sections)]) + "\n"


def _header(new: Page, old: Page) -> list[str]:
    setups = sorted(set(new.setups) | set(old.setups)) or [_NO_SETUP]
    machines = sorted(set(new.machines) | set(old.machines))
    start = new.header.index(_SETUPS)
    machine_at = next(i for i, h in enumerate(new.header) if h.startswith(_MACHINE))
    rest = [h for h in new.header[machine_at + 1 :] if not h.startswith(_REBUILT)]  # said anew by merge()
    while rest[-2:] == ["", ""]:
        rest.pop()
    return [
        *new.header[: start + 1],
        "",
        *setups,
        "",
        f"{_MACHINE}{'; '.join(machines) or 'no runs yet'}.",
        *rest,
    ]
