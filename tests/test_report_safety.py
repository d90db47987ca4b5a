"""Reports are safe to open: no spreadsheet formula in a CSV cell, no HTML or broken table in the markdown, no
control characters on the console, whatever a results.json says (issue 20, part 4)."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import pytest

from bench.analysis.leaderboard import build_leaderboard
from bench.report.safe_text import console_text, csv_cell, csv_row, is_number_text, md_text
from test_aggregate import make_results, write_run

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    "value, expected",
    [
        (FORMULA, "'" + FORMULA),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd", "'-2+3+cmd"),
        ("@SUM(1,1)", "'@SUM(1,1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        # numbers stay numbers: they read back exactly
        ("-3.5", "-3.5"),
        ("+1e-05", "+1e-05"),
        ("-.5", "-.5"),
        ("-12", "-12"),
        # text that does not start a formula is left alone
        ("vae replace", "vae replace"),
        ("a=b", "a=b"),
        ("", ""),
        (3, 3),
        (-3.5, -3.5),
        (None, None),
    ],
)
def test_csv_cells_that_start_a_formula_get_a_quote(value, expected):
    assert csv_cell(value) == expected


def test_numbers_are_recognised_strictly():
    assert all(is_number_text(t) for t in ("0", "-1", "+2.5", "1e10", "-1.5E-3", ".5", "5."))
    assert not any(is_number_text(t) for t in ("", "-", "1_000", "nan", "-inf", "1e", "--1", "1 ", "0x10"))
    assert csv_row({"a": "=1+1", "b": "-1", "c": 2}) == {"a": "'=1+1", "b": "-1", "c": 2}


def test_markdown_text_is_escaped_and_keeps_its_cell():
    assert md_text("<img src=x onerror=alert(1)>") == html.escape("<img src=x onerror=alert(1)>")
    assert md_text("a|b") == "a\\|b"
    assert md_text("a\\|b") == "a\\\\\\|b"  # a backslash cannot un-escape the pipe after it
    assert md_text("two\nlines\r\n") == "two lines "
    assert md_text("`code`") == "\\`code\\`"
    assert console_text("ok\x1b[2Jred\x07\n") == "ok?[2Jred??"


def _table_rows(md: str) -> list[list[str]]:
    """The cells of every markdown table row, split on unescaped pipes like a GFM renderer."""
    rows = []
    for line in md.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def hostile_board(tmp_path_factory) -> Path:
    """A leaderboard of three entries whose model names are a formula, HTML and a pipe."""
    root = tmp_path_factory.mktemp("hostile")
    names = {"formula": FORMULA, "markup": "<b>bold</b><script>x</script>", "pipe": "a|b|c"}
    for folder, model in names.items():
        write_run(root / "runs", folder, make_results(model=model))
    build_leaderboard([root / "runs"], out_dir=root / "out", n_resamples=0)
    return root / "out"


def test_a_formula_model_name_is_written_as_text_into_the_csv(hostile_board):
    with (hostile_board / "leaderboard.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    entries = {r["entry"] for r in rows}
    assert "'" + FORMULA + " replace" in entries
    assert FORMULA + " replace" not in entries
    for r in rows:
        for value in r.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not value.startswith("-") or is_number_text(value), value
    # numbers still read back as numbers
    assert any(float(r["mean"]) == 100.0 for r in rows if r["quantity"] == "fid" and r["generation"] == "0")


def test_markdown_labels_are_html_escaped_and_a_pipe_keeps_the_table_shape(hostile_board):
    md = (hostile_board / "leaderboard.md").read_text()
    assert "<b>" not in md and "<script>" not in md
    assert "&lt;b&gt;bold&lt;/b&gt;&lt;script&gt;x&lt;/script&gt; replace" in md
    assert "a\\|b\\|c replace" in md
    rows = _table_rows(md)
    assert len(rows) == 2 + 3  # header, rule, three entries
    assert len({len(r) for r in rows}) == 1, "every row of the table has as many cells as its header"
    assert next(r for r in rows if "a\\|b\\|c" in r[1])[1].strip() == "a\\|b\\|c replace"


def test_a_track_heading_is_escaped(tmp_path):
    write_run(tmp_path / "runs", "r", make_results(dataset="<i>mnist</i>|x"))
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    md = (tmp_path / "leaderboard.md").read_text()
    (heading,) = [line for line in md.splitlines() if line.startswith("## ") and "generations" in line]
    assert "&lt;i&gt;mnist&lt;/i&gt;\\|x" in heading and "<i>" not in md


def test_an_unwritable_leaderboard_folder_is_refused_before_reading(tmp_path, capsys):
    from bench.cli.leaderboard import main

    write_run(tmp_path / "runs", "r", make_results())
    (tmp_path / "file").write_text("x")
    for out, problem in (
        ("/proc/x", "cannot be written: no file can be created in /proc"),
        (tmp_path / "file", "is not a folder"),
    ):
        assert main([str(tmp_path / "runs"), "--out", str(out), "--bootstrap", "0"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --out {out} ") and problem in err and err.count("\n") == 1, err


def test_a_negative_bootstrap_is_refused_not_taken_as_0(tmp_path):
    from bench.errors import BenchError

    write_run(tmp_path / "runs", "r", make_results())
    with pytest.raises(BenchError) as e:
        build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=-5)
    assert str(e.value) == "--bootstrap -5 is not allowed; allowed: 0 (no seed bootstrap of λ*) or more"
    assert not (tmp_path / "leaderboard.md").exists()
