"""The leaderboard: runs -> one ranked table per track, as leaderboard.md, leaderboard.csv and leaderboard.html.

`build_leaderboard(paths, out_dir=...)` reads every results.json under `paths` (bench.analysis.aggregate: strict
JSON, the published schema, consistency; an unusable file stops it with one line unless skip_invalid), groups
seeds, and writes:

- leaderboard.md: per track, a table ranked by one summary score (default `fid.auc`, the mean FID level over
  generations), each cell `mean ± half-width of the 95% Student-t interval`, n seeds beside; then λ* where a
  family of replay runs allows it (bench.analysis.critical_fraction), then the definitions.
- leaderboard.csv: tidy, one row per (track, entry, quantity[, generation]): every metric at every generation
  and every summary score, with mean, ci_low, ci_high and n; floats as Python writes them (they read back exactly).
- leaderboard.html: one self-contained page (inline CSS and JS, no network): a sortable table per track and the
  curves of the main metrics over generations (mean and interval band per entry), drawn as SVG by its own
  script. Text from the files is only ever set as text (textContent), never parsed as HTML.

Rows of different tracks (data set and checksum, feature extractor and sha256, images scored, generations) are
never ranked together. Directions come from METRIC_INFO.

An entry with a run whose generation 0 diverged or failed the health gate (no generations, or a generation-0
record with `"healthy": false`) is never ranked: an under-trained or diverged model scores in ways that say
nothing of collapse, and NaN-trained runs once topped a track. Such entries are listed apart, after the ranked
ones, under "not ranked" with the reason (the `not_ranked` column of the CSV, a table of their own in the page).

An entry of two or more seeds whose generation-0 FIDs disagree (95% half-width above `health.max_gen0_fid_spread`
of their mean, from the runs' configs: bench.analysis.aggregate.relative_spread) stays ranked but is flagged
"generation 0 unstable": its recipe's generation 0 is training noise, and so are its collapse numbers. The flag
follows the entry's label (⚠) in the markdown, the page and the console; the CSV has `gen0_fid_spread` and
`gen0_unstable` on every row.

Every text from the files is made safe for where it goes (bench.report.safe_text): CSV cells that a spreadsheet
would run as a formula start with `'`, markdown is HTML-escaped with `|` kept inside its cell, console lines
carry no control characters.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bench.analysis.aggregate import EVENT_SCORES, Estimate, Group, Track, direction, group_runs, load_runs, warn_stderr
from bench.analysis.critical_fraction import CriticalFraction, critical_fractions
from bench.errors import BenchError
from bench.io.atomic import write_text
from bench.io.writable import check_writable_folder
from bench.report.safe_text import console_text, csv_row, md_text
from bench.report.summary import DEFAULT_CLASS_THRESHOLD, SUMMARY_DEFINITIONS, metric_registry

DEFAULT_RANK = "fid.auc"
# the table's columns (summary scores), those present in a track are shown
COLUMNS: list[tuple[str, str]] = [
    ("fid.gen0", "FID gen 0"),
    ("fid.last", "FID last"),
    ("fid.ratio", "FID last / gen 0"),
    ("fid.auc", "FID mean level"),
    ("precision.last", "precision last"),
    ("recall.last", "recall last"),
    ("coverage.last", "coverage last"),
    ("classes_covered.last", "classes last"),
    ("class_loss.first_loss_generation", "class lost at gen"),
    ("minority.first_generation", "minority halved at gen"),
]
CURVE_METRICS: list[tuple[str, str]] = [
    ("fid", "FID"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("coverage", "coverage"),
    ("classes_covered", "classes covered"),
    ("minority_share", "minority share"),
    ("memorized_share_dt", "memorised (own data D_t)"),
    ("entropy_dt", "entropy of D_t"),
]
FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.html")
CSV_FIELDS = [
    "track",
    "protocol",
    "dataset",
    "dataset_checksum",
    "extractor",
    "extractor_sha256",
    "n_generated",
    "generations",
    "rank",
    "not_ranked",
    "gen0_fid_spread",
    "gen0_unstable",
    "entry",
    "seeds",
    "quantity",
    "generation",
    "higher_is_better",
    "mean",
    "ci_low",
    "ci_high",
    "n",
]
GEN0_UNSTABLE_TEXT = (
    "generation 0 unstable: the seeds' generation-0 FIDs have a 95% Student-t half-width above "
    "health.max_gen0_fid_spread (default 0.1) of their mean. The recipe's generation 0 is training noise, and so are "
    "the entry's collapse numbers: still ranked, not to be trusted."
)
INTERVAL_TEXT = (
    "Cells: mean over seeds ± half-width of the 95% Student-t interval (t_{0.975,n-1}·s/√n); n seeds; "
    "n = 1: no interval. Event generations count T (the number of generations) for runs where the event did not "
    "happen."
)


@dataclass
class Leaderboard:
    tracks: dict[Track, list[Group]]
    rank_by: str
    ranks: dict[str, int | None] = field(default_factory=dict)  # group id -> rank in its track
    not_ranked: dict[str, str] = field(default_factory=dict)  # group id -> why it is listed apart, unranked
    critical: list[CriticalFraction] = field(default_factory=list)
    n_files: int = 0


def rank_groups(groups: list[Group], key: str) -> dict[str, int | None]:
    """Sort `groups` (in place) by the mean of summary score `key` in its better direction; competition ranks
    (1, 2, 2, 4); groups without the score go last, unranked."""
    higher = direction(key)
    assert higher is not None, f"{key} has no direction"

    def mean(g: Group) -> float | None:
        e = g.scores.get(key)
        return None if e is None else e.mean

    def order(g: Group) -> tuple[bool, float, str]:
        m = mean(g)
        return (m is None, 0.0 if m is None else -m if higher else m, g.label)

    groups.sort(key=order)
    ranks: dict[str, int | None] = {}
    previous: float | None = None
    for i, g in enumerate(groups):
        m = mean(g)
        if m is None:
            ranks[g.id] = None
        else:
            ranks[g.id] = ranks[groups[i - 1].id] if i and m == previous else i + 1
            previous = m
    return ranks


def generation_zero_problem(results: dict[str, Any]) -> str | None:
    """Why generation 0 of one run is not a usable model: none committed (it diverged), or marked unhealthy."""
    generations = results.get("generations") or []
    first = next((g for g in generations if isinstance(g, dict) and g.get("generation") == 0), None)
    if first is None:
        return "no generation 0 (diverged)"
    if first.get("healthy") is False:
        warnings = [w for w in first.get("warnings") or [] if isinstance(w, str)]
        return "generation 0 unhealthy" + (f": {warnings[0]}" if warnings else "")
    return None


def not_ranked_reason(g: Group) -> str | None:
    """Why group `g` is listed apart instead of ranked: some seed's generation 0 diverged or is unhealthy."""
    problems = [(r.seed, p) for r in g.runs if (p := generation_zero_problem(r.results)) is not None]
    if not problems:
        return None
    seeds = ", ".join(str(s) for s, _ in problems)
    return f"generation 0 diverged or unhealthy in {len(problems)}/{len(g.runs)} seeds ({seeds}); {problems[0][1]}"


def check_rank_key(tracks: dict[Track, list[Group]], key: str) -> None:
    names = sorted({k for groups in tracks.values() for g in groups for k in g.scores})
    if key not in names or direction(key) is None:
        ranked = [n for n in names if direction(n) is not None]
        raise BenchError(f"--rank-by {key!r} is not a summary score with a direction; try one of: {', '.join(ranked)}")


def build(
    paths: Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    rank_by: str = DEFAULT_RANK,
    n_resamples: int = 1000,
    class_threshold: float = DEFAULT_CLASS_THRESHOLD,
    warn: Callable[[str], None] = warn_stderr,
) -> Leaderboard:
    if not 0 < class_threshold <= 1:
        raise BenchError(f"class threshold {class_threshold} must be in (0, 1]")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 0:
        raise BenchError(f"--bootstrap {n_resamples} is not allowed; allowed: 0 (no seed bootstrap of λ*) or more")
    runs = load_runs(paths, skip_invalid=skip_invalid, class_threshold=class_threshold, warn=warn)
    if not runs:
        raise BenchError(f"no finished, valid run under {', '.join(map(str, paths))}")
    tracks = group_runs(runs)
    check_rank_key(tracks, rank_by)
    board = Leaderboard(tracks=tracks, rank_by=rank_by, n_files=len(runs))
    for track, groups in tracks.items():
        reasons = {g.id: reason for g in groups if (reason := not_ranked_reason(g)) is not None}
        healthy = [g for g in groups if g.id not in reasons]
        apart = [g for g in groups if g.id in reasons]
        board.ranks.update(rank_groups(healthy, rank_by))
        rank_groups(apart, rank_by)  # only for their order: listed by the same score, never given a rank
        board.ranks.update({g.id: None for g in apart})
        board.not_ranked.update(reasons)
        tracks[track] = healthy + apart
    board.critical = critical_fractions(runs, n_resamples=n_resamples)
    return board


# ---------------------------------------------------------------- text


def fmt(x: float | None, digits: int = 4) -> str:
    """`digits` significant digits in plain notation (190, 0.0123), exponent only outside [1e-4, 1e7)."""
    if x is None:
        return "–"
    if float(x).is_integer() and abs(x) < 1e7:
        return str(int(x))
    if not 1e-4 <= abs(x) < 1e7:
        return f"{x:.{digits}g}"
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    rounded = round(x, decimals)
    return str(int(rounded)) if decimals <= 0 else f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")


def cell(e: Estimate | None, key: str = "", generations: int = -1) -> str:
    """`mean ± half-width`, or the mean alone when there is no interval; `–` when there is no value; `none` for
    an event generation that no seed reached within its `generations`."""
    if e is None or e.mean is None:
        return "–"
    if key in EVENT_SCORES and e.mean == generations:
        return "none"
    hw = e.half_width
    return fmt(e.mean) if hw is None else f"{fmt(e.mean)} ± {fmt(hw, 2)}"


def arrow(key: str) -> str:
    return {True: " ↑", False: " ↓", None: ""}[direction(key)]


def _columns(groups: Sequence[Group], columns: Sequence[tuple[str, str]] = COLUMNS) -> list[tuple[str, str]]:
    return [(k, t) for k, t in columns if any(k in g.scores and g.scores[k].n for g in groups)]


def gen0_unstable_flag(g: Group) -> str | None:
    """The flag of an entry whose seeds' generation-0 FIDs disagree more than health.max_gen0_fid_spread allows."""
    if not g.gen0_unstable:
        return None
    spread, limit = g.gen0_fid_spread, g.max_gen0_fid_spread
    assert spread is not None
    return f"generation 0 unstable (FID ± {fmt(100 * spread, 3)}% of its mean, limit {fmt(100 * limit, 2)}%)"


def entry_flags(g: Group) -> str:
    # an unhealthy generation 0 is no flag: such an entry is not ranked at all (not_ranked_reason)
    unstable = gen0_unstable_flag(g)
    flags = [unstable] if unstable else []
    dirty = sum(1 for r in g.runs if (r.results.get("environment") or {}).get("source_dirty") is True)
    if dirty:
        flags.append(f"uncommitted source in {dirty}/{len(g.runs)}")
    return "; ".join(flags)


def _md_row(board: Leaderboard, g: Group, columns: Sequence[tuple[str, str]], generations: int) -> str:
    rank = board.ranks.get(g.id)
    entry = md_text(g.label) + (f" ⚠ {md_text(entry_flags(g))}" if entry_flags(g) else "")
    cells = [fmt(rank) if rank is not None else "–", entry, str(len(g.runs))]
    cells += [cell(g.scores.get(k), k, generations) for k, _ in columns]
    return "| " + " | ".join(cells) + " |"


def to_markdown(board: Leaderboard) -> str:
    lines = ["# Leaderboard", ""]
    title = dict(COLUMNS).get(board.rank_by, board.rank_by)
    lines += [
        f"{board.n_files} runs, {sum(len(g) for g in board.tracks.values())} entries, {len(board.tracks)} track(s). "
        f"Ranked within each track by **{title}** ({'higher' if direction(board.rank_by) else 'lower'} is better). "
        + INTERVAL_TEXT,
        "",
    ]
    for track, groups in board.tracks.items():
        columns = _columns(groups)
        lines += [f"## {md_text(track.label())}", ""]
        header = ["rank", "entry", "n", *(f"{t}{arrow(k)}" for k, t in columns)]
        table_head = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---:", "---", "---:"] + ["---:"] * len(columns)) + "|",
        ]

        ranked = [g for g in groups if g.id not in board.not_ranked]
        apart = [g for g in groups if g.id in board.not_ranked]
        if ranked:
            lines += [*table_head, *(_md_row(board, g, columns, track.generations) for g in ranked), ""]
        if apart:
            lines += [
                "### Not ranked",
                "",
                "Entries with a run whose generation 0 diverged or failed the health gate: their scores measure a "
                "failed training, not collapse, and are never ranked with the others.",
                "",
                *table_head,
                *(_md_row(board, g, columns, track.generations) for g in apart),
                "",
                *(f"- {md_text(g.label)}: {md_text(board.not_ranked[g.id])}" for g in apart),
                "",
            ]
        critical = [c for c in board.critical if c.track == track]
        if critical:
            lines += ["Critical real fraction λ* (bench.analysis.critical_fraction):", ""]
            for c in critical:
                lines.append(f"- {md_text(c.family)}: {md_text(c.sentence())}")
                for p in c.grid:
                    verdict = {True: "passes", False: "fails", None: "undecided"}[p.passes]
                    reason = f" ({md_text(p.reason)})" if p.reason else ""
                    seeds = ", ".join(map(str, p.seeds))
                    lines.append(
                        f"  - λ = {p.real_fraction:g} ({md_text(str(p.loop))}, seeds {seeds}): {verdict}{reason}"
                    )
            lines.append("")
    lines += ["## Definitions", ""]
    lines += [f"- `<metric>.{k}`: {v}" for k, v in SUMMARY_DEFINITIONS.items() if "." not in k]
    lines += [f"- `{k}`: {v}" for k, v in SUMMARY_DEFINITIONS.items() if "." in k]
    lines.append(f"- ⚠ {GEN0_UNSTABLE_TEXT}")
    lines.append(
        "- λ*: the smallest loop.real_fraction whose seeds' mean stays on the good side of its generation-0 "
        "interval (where the mean falls with 95% probability over all checks if nothing changed) for every "
        "generation on fid, precision, recall, coverage and classes_covered (python -m bench.critical_fraction --help)."
    )
    return "\n".join(lines) + "\n"


def _num(x: float | int | None) -> str:
    return "" if x is None else repr(x) if isinstance(x, float) else str(x)


def to_csv(board: Leaderboard) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for track, groups in board.tracks.items():
        base = {
            "track": track.id,
            "protocol": track.protocol,
            "dataset": track.dataset,
            "dataset_checksum": track.checksum,
            "extractor": track.extractor,
            "extractor_sha256": track.extractor_sha256,
            "n_generated": track.n_generated,
            "generations": track.generations,
        }
        for g in groups:
            row = {
                **base,
                "rank": _num(board.ranks.get(g.id)),
                "not_ranked": board.not_ranked.get(g.id, ""),
                "gen0_fid_spread": _num(g.gen0_fid_spread),
                "gen0_unstable": str(g.gen0_unstable).lower(),
                "entry": g.label,
                "seeds": " ".join(map(str, g.seeds)),
            }
            quantities: list[tuple[str, int | None, Estimate]] = [(k, None, e) for k, e in g.scores.items()]
            quantities += [(m, t, e) for m, curve in g.curves.items() for t, e in enumerate(curve)]
            for name, t, e in quantities:
                higher = direction(name)
                writer.writerow(
                    csv_row(
                        {
                            **row,
                            "quantity": name,
                            "generation": "" if t is None else t,
                            "higher_is_better": "" if higher is None else str(higher).lower(),
                            "mean": _num(e.mean),
                            "ci_low": _num(e.low),
                            "ci_high": _num(e.high),
                            "n": e.n,
                        }
                    )
                )
    return buf.getvalue()


# ---------------------------------------------------------------- html


def _est(e: Estimate | None) -> list[float | int | None] | None:
    return None if e is None else [e.mean, e.low, e.high, e.n]


def html_data(board: Leaderboard, columns: Sequence[tuple[str, str]] = COLUMNS) -> dict[str, Any]:
    """Everything the page's script draws, as plain JSON; `columns`: the summary scores its tables may show."""
    registry = metric_registry()
    tracks = []
    for track, groups in board.tracks.items():
        columns = _columns(groups, columns)
        curve_metrics = [(k, t) for k, t in CURVE_METRICS if any(k in g.curves for g in groups)]
        floors = {
            k: next((g.floor.get(k) for g in groups if g.floor.get(k) is not None), None) for k, _ in curve_metrics
        }
        tracks.append(
            {
                "id": track.id,
                "label": track.label(),
                "generations": track.generations,
                "columns": [{"key": k, "title": t, "higher": direction(k)} for k, t in columns],
                "curve_metrics": [
                    {
                        "key": k,
                        "title": t,
                        "higher": direction(k),
                        "floor": floors[k],
                        "definition": registry.get(k, {}).get("definition", ""),
                    }
                    for k, t in curve_metrics
                ],
                "entries": [
                    {
                        "id": g.id,
                        "label": g.label,
                        "rank": board.ranks.get(g.id),
                        "not_ranked": board.not_ranked.get(g.id),
                        "seeds": g.seeds,
                        "flags": entry_flags(g),
                        "gen0_fid_spread": g.gen0_fid_spread,
                        "gen0_unstable": g.gen0_unstable,
                        "scores": {k: _est(g.scores.get(k)) for k, _ in columns},
                        "curves": {k: [_est(e) for e in g.curves[k]] for k, _ in curve_metrics if k in g.curves},
                    }
                    for g in groups
                ],
                "critical": [
                    {
                        "family": c.family,
                        "sentence": c.sentence(),
                        "notes": c.notes,
                        "grid": [
                            {
                                "lambda": p.real_fraction,
                                "loop": p.loop,
                                "seeds": p.seeds,
                                "passes": p.passes,
                                "reason": p.reason,
                            }
                            for p in c.grid
                        ],
                    }
                    for c in board.critical
                    if c.track == track
                ],
            }
        )
    return {
        "rank_by": board.rank_by,
        "rank_title": dict(COLUMNS).get(board.rank_by, board.rank_by),
        "rank_higher": direction(board.rank_by),
        "n_files": board.n_files,
        "interval_text": INTERVAL_TEXT,
        "definitions": SUMMARY_DEFINITIONS,
        "event_scores": list(EVENT_SCORES),
        "tracks": tracks,
    }


def _asset(name: str) -> str:
    return resources.files("bench.analysis").joinpath("leaderboard_assets", name).read_text()


def to_html(board: Leaderboard) -> str:
    return render_html(html_data(board))


def render_html(data_dict: dict[str, Any]) -> str:
    """The self-contained page around `data_dict` (html_data's shape; an optional "page" key adds a title, lines
    of provenance and a not-run list: bench.analysis.board_page)."""
    # inside <script type="application/json">: no "</script>", no HTML parsing of data from the files
    data = json.dumps(data_dict, allow_nan=False, ensure_ascii=False)
    data = data.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    page = _asset("template.html")
    for placeholder, text in (("/*STYLE*/", _asset("leaderboard.css")), ("/*SCRIPT*/", _asset("leaderboard.js"))):
        page = page.replace(placeholder, text)
    return page.replace("/*DATA*/", data)


# ---------------------------------------------------------------- files and console


def default_out_dir(paths: Sequence[str | Path]) -> Path:
    """The common parent of the inputs (a file's folder, a folder itself), or the current folder if only / is."""
    folders = [str(Path(p).resolve().parent if Path(p).is_file() else Path(p).resolve()) for p in paths]
    common = Path(os.path.commonpath(folders)) if folders else Path.cwd()
    return Path.cwd() if common == Path(common.anchor) else common


def console_summary(board: Leaderboard, written: Sequence[Path]) -> str:
    lines = []
    title = dict(COLUMNS).get(board.rank_by, board.rank_by)
    for track, groups in board.tracks.items():
        lines.append(f"track: {console_text(track.label())}")
        width = max(len(g.label) for g in groups)
        for g in groups:
            rank = board.ranks.get(g.id)
            flags = f"  ⚠ {entry_flags(g)}" if entry_flags(g) else ""
            if g.id in board.not_ranked:
                flags += f"  not ranked: {board.not_ranked[g.id]}"
            lines.append(
                f"  {fmt(rank) if rank is not None else '–':>3}. {console_text(g.label):<{width}}  "
                f"{title}{arrow(board.rank_by)} "
                f"{cell(g.scores.get(board.rank_by), board.rank_by, track.generations)}  (n={len(g.runs)})"
                + console_text(flags)
            )
        lines += [
            f"  λ* {console_text(c.family)}: {console_text(c.sentence())}" for c in board.critical if c.track == track
        ]
    lines.append(f"written: {', '.join(str(p) for p in written)}")
    return "\n".join(lines)


def build_leaderboard(
    paths: Sequence[str | Path],
    *,
    out_dir: str | Path | None = None,
    skip_invalid: bool = False,
    rank_by: str = DEFAULT_RANK,
    n_resamples: int = 1000,
    class_threshold: float = DEFAULT_CLASS_THRESHOLD,
    warn: Callable[[str], None] = warn_stderr,
    echo: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write leaderboard.md, .csv and .html for the runs under `paths` into `out_dir` (default: their common
    parent); returns the paths written. An unusable file raises InvalidResults (a BenchError) unless skip_invalid.
    `echo`: where the console summary goes (None: nowhere). An output folder that cannot be written is refused in
    one line before any file is read."""
    out = check_writable_folder(out_dir if out_dir is not None else default_out_dir(paths), "--out")
    board = build(
        paths,
        skip_invalid=skip_invalid,
        rank_by=rank_by,
        n_resamples=n_resamples,
        class_threshold=class_threshold,
        warn=warn,
    )
    written = [out / name for name in FILES]
    for path, text in zip(written, (to_markdown(board), to_csv(board), to_html(board)), strict=True):
        try:
            write_text(path, text)
        except OSError as e:  # the folder changed since the check: disk full, made read-only
            raise BenchError(f"--out {out}: {path.name} cannot be written ({e.strerror or type(e).__name__})") from None
    if echo is not None:
        echo(console_summary(board, written))
    return written
