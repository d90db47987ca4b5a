"""metrics.csv is safe to open in a spreadsheet (issue 20, part 4): a text cell or column name that would run as a
formula starts with ', numbers (negative ones included) stay numbers."""

import csv

from bench.report.results import write_metrics_csv


def test_formula_cells_and_names_are_quoted_numbers_are_not(tmp_path):
    record = {
        "generation": 0,
        "extractor": '=HYPERLINK("http://example.invalid","x")',
        "counts": {"real": 10, "synthetic": 0},
        "seconds": {"train": 1.0},
        "diagnostics": {"note": "@SUM(A1:A9)", "delta": -0.5},
        "metrics": {"fid": 12.5, "-danger": 1.0},
    }
    path = tmp_path / "metrics.csv"
    write_metrics_csv(path, [record])
    with open(path, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["extractor"] == "'" + record["extractor"]
    assert row["note"] == "'@SUM(A1:A9)"
    assert row["delta"] == "-0.5", "a negative number is a number, not a formula"
    assert row["fid"] == "12.5"
    assert "'-danger" in row and "-danger" not in row, "a column name is a cell too"
