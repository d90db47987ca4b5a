"""The published board's two pages, docs/leaderboard.md and docs/leaderboard.html, from a bench.analysis.board.Board.

The markdown says where every number comes from: the command that made the page, the machine and dates of the runs
(from their results.json), the protocol's fixed settings, the command of every row, and the entries not run with
the command that runs them. The HTML page is the leaderboard's self-contained page (bench.analysis.leaderboard:
sortable tables, curves with interval bands, no network, file text set only as text) with one table per section
and the same provenance and not-run list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.analysis.aggregate import Run
from bench.analysis.board import HEADLINE, Board, Section
from bench.analysis.leaderboard import (
    GEN0_UNSTABLE_TEXT,
    INTERVAL_TEXT,
    Leaderboard,
    arrow,
    cell,
    entry_flags,
    fmt,
    html_data,
    render_html,
)
from bench.report.safe_text import md_text
from bench.report.summary import SUMMARY_DEFINITIONS

HEADLINE_TITLE = "mean FID / gen 0"
HEADLINE_TEXT = (
    f"**Headline: `{HEADLINE}`**, the mean FID over the protocol's generations (trapezoid rule: generations 0 and "
    "T−1 count half) divided by generation 0's FID. 1 means the loop did no damage over the run, 2 that FID was on "
    "average twice its starting value; lower is better. It leaves out how good the model was to begin with (the "
    "`FID gen 0` column), so a weak model and a strong one are judged by what the loop did to them."
)
COLUMNS: list[tuple[str, str]] = [
    (HEADLINE, HEADLINE_TITLE),
    ("fid.gen0", "FID gen 0"),
    ("fid.last", "FID last"),
    ("recall.last", "recall last"),
    ("coverage.last", "coverage last"),
    ("classes_covered.last", "classes last"),
    ("class_loss.first_loss_generation", "class lost at gen"),
]


def run_minutes(runs: Sequence[Run]) -> float | None:
    """Mean over runs of the seconds their generations took (train + sample + score), in minutes."""
    totals = []
    for r in runs:
        seconds = [
            sum(v for v in (g.get("seconds") or {}).values() if isinstance(v, (int, float)))
            for g in r.results["generations"]
        ]
        totals.append(sum(seconds) / 60)
    return sum(totals) / len(totals) if totals else None


def _machine(e: dict) -> str:
    """'AMD EPYC (cpu, AVX2, 1 torch thread(s))': the CPU kernels only where the run recorded them (2026-12-07 on)."""
    kernels = f"{e['cpu_capability']}, " if e.get("cpu_capability") else ""
    return (
        f"{e.get('device', '?')} ({e.get('accelerator', '?')}, {kernels}{e.get('torch_threads', '?')} torch thread(s))"
    )


def provenance(board: Board) -> dict[str, str]:
    """Machine, dates, commits and torch of the board's runs, from their results.json environment."""
    envs = [r.results.get("environment") or {} for r in board.runs]
    devices = sorted({_machine(e) for e in envs})
    dates = sorted(str(e["date"])[:10] for e in envs if e.get("date"))
    commits = sorted({str(e["git_commit"])[:7] for e in envs if e.get("git_commit")})
    torch = sorted({str((e.get("packages") or {}).get("torch", "?")) for e in envs})
    return {
        "machine": "; ".join(devices) or "no runs",
        "dates": (dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}") if dates else "no runs",
        "commits": ", ".join(commits) or "unknown",
        "torch": ", ".join(torch) or "?",
    }


def section_markdown(section: Section, generations: int, extra: Sequence[str]) -> list[str]:
    # titles and notes are the board's own text (bench.analysis.board); labels and commands hold config values
    lines = [f"## {section.title}", ""]
    if section.note:
        lines += [section.note, ""]
    if not section.groups:
        return [*lines, "No entry here yet.", ""]
    header = ["rank", "entry", "n", *(f"{t}{arrow(k)}" for k, t in COLUMNS), "min a run", "command"]
    lines += [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---:", "---", "---:", *["---:"] * len(COLUMNS), "---:", "---"]) + "|",
    ]
    for g in section.groups:
        rank = section.ranks.get(g.id)
        entry = md_text(g.label) + (f" ⚠ {md_text(f)}" if (f := entry_flags(g)) else "")
        minutes = run_minutes(g.runs)
        command = section.entries[g.id].command(g.seeds, extra)
        cells = [fmt(rank) if rank is not None else "–", entry, str(len(g.runs))]
        cells += [cell(g.scores.get(k), k, generations) for k, _ in COLUMNS]
        cells += ["–" if minutes is None else fmt(minutes, 2), f"`{md_text(command)}`"]
        lines.append("| " + " | ".join(cells) + " |")
    ties = overlapping(section)
    if ties:
        lines += [
            "",
            "Headline intervals that overlap the next entry's (the protocol's seeds do not settle their order; more "
            "seeds would need a protocol version that fixes more): "
            + "; ".join(f"{md_text(a)} and {md_text(b)}" for a, b in ties)
            + ".",
        ]
    return [*lines, ""]


def overlapping(section: Section) -> list[tuple[str, str]]:
    """Neighbours in rank order whose headline 95% intervals overlap."""
    out = []
    for a, b in zip(section.groups, section.groups[1:], strict=False):
        ea, eb = a.scores.get(HEADLINE), b.scores.get(HEADLINE)
        if None in (ea, eb) or ea.low is None or eb.low is None or ea.high is None or eb.high is None:
            continue
        if ea.high >= eb.low and eb.high >= ea.low:
            out.append((a.label, b.label))
    return out


def to_markdown(
    board: Board, *, command: str, made: str, protocol_lines: Sequence[str], extra: Sequence[str] = ()
) -> str:
    """docs/leaderboard.md. `command`: the command that made the page; `made`: its date; `protocol_lines`: what
    the protocol fixes, one line each."""
    where = provenance(board)
    generations = next((r.track.generations for r in board.runs), 0)
    lines = [
        f"# Published board: protocol {md_text(board.protocol)}",
        "",
        f"Made by `{md_text(command)}` on {made}. Runs: {md_text(where['machine'])}, torch {md_text(where['torch'])}, "
        f"{md_text(where['dates'])}, commit {md_text(where['commits'])}; {len(board.runs)} runs, seeds "
        f"{', '.join(map(str, board.seeds))} of every entry. Every number is from a run folder found by its config; "
        "an entry without all its seeds is listed under *Not run* with its command, never filled from elsewhere.",
        "",
        f"The protocol `{md_text(board.protocol)}` fixes everything but the model and the mitigation:",
        "",
        *(f"- {md_text(line)}" for line in protocol_lines),
        "",
        HEADLINE_TEXT,
        "",
        INTERVAL_TEXT,
        "",
    ]
    lines += section_markdown(board.across, generations, extra)
    lines += ["## Each model's mitigations, ranked among themselves", ""]
    for section in board.models:
        lines += [
            "#" + line if line.startswith("## ") else line for line in section_markdown(section, generations, extra)
        ]
    lines += ["## Not run", ""]
    if not board.not_run:
        lines += ["Every entry has all its seeds.", ""]
    else:
        lines += [
            "Entries without a finished run for every seed of the protocol (too costly for the machine that made "
            "the page, or not run yet). Each command runs the missing seeds; `python -m bench.board` then adds "
            "the row.",
            "",
            "| model | mitigation | seeds finished | command |",
            "|---|---|---|---|",
        ]
        for e, have in board.not_run:
            missing = [s for s in board.seeds if s not in have]
            lines.append(
                f"| {md_text(e.model.key)} | {md_text(e.mitigation.label)} | {', '.join(map(str, have)) or 'none'} | "
                f"`{md_text(e.command(missing, extra))}` |"
            )
        lines.append("")
    lines += ["## Definitions", ""]
    lines += [f"- `{k}`: {v}" for k, v in SUMMARY_DEFINITIONS.items() if "." in k]
    lines += [f"- `<metric>.{k}`: {v}" for k, v in SUMMARY_DEFINITIONS.items() if "." not in k]
    lines += ["- min a run: the minutes the run's generations took (train + sample + score), mean over seeds."]
    lines.append(f"- ⚠ {GEN0_UNSTABLE_TEXT}")
    return "\n".join(lines) + "\n"


def _section_data(section: Section, key: str) -> dict[str, Any] | None:
    """One section as a track of the leaderboard page's data (its own id, title and ranks)."""
    if not section.groups:
        return None
    track = section.groups[0].track
    board = Leaderboard(tracks={track: section.groups}, rank_by=HEADLINE, ranks=section.ranks)
    data = html_data(board, columns=COLUMNS)["tracks"][0]
    data["id"] = f"{track.id}-{key}"
    data["label"] = section.title
    data["note"] = section.note  # a paragraph under the title (the leaderboard's script shows it when present)
    return data


def to_html(board: Board, *, command: str, made: str, protocol_lines: Sequence[str], extra: Sequence[str] = ()) -> str:
    """docs/leaderboard.html: the leaderboard page with one table per section, the provenance and the not-run list."""
    where = provenance(board)
    sections = [(board.across, "across"), *((s, f"model{i}") for i, s in enumerate(board.models))]
    tracks = [d for s, k in sections if (d := _section_data(s, k)) is not None]
    page = {
        "title": f"Published board: protocol {board.protocol}",
        "lines": [
            f"Made by {command} on {made}. Runs: {where['machine']}, torch {where['torch']}, {where['dates']}, "
            f"commit {where['commits']}; {len(board.runs)} runs, seeds {', '.join(map(str, board.seeds))} of every "
            "entry.",
            *(f"Protocol {board.protocol}: {line}" for line in protocol_lines),
            HEADLINE_TEXT.replace("**", "").replace("`", ""),
            *([f"{board.across.title}: {board.across.note}"] if not board.across.groups else []),
        ],
        "not_run": [
            {
                "model": e.model.key,
                "mitigation": e.mitigation.label,
                "seeds": ", ".join(map(str, have)) or "none",
                "command": e.command([s for s in board.seeds if s not in have], extra),
            }
            for e, have in board.not_run
        ],
    }
    data = html_data(Leaderboard(tracks={}, rank_by=HEADLINE, n_files=len(board.runs)))  # the page-wide keys
    data.update(rank_title=HEADLINE_TITLE, tracks=tracks, page=page)
    return render_html(data)
