"""results.json (the one record of a run) and metrics.csv (one row per generation).

Both are rebuilt from the generation records.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bench.io.atomic import write_json, write_text
from bench.metric_info import LEAD_METRICS
from bench.report.run_status import STATUSES
from bench.report.safe_text import csv_cell, csv_row
from bench.report.summary import summary_scores

SCHEMA_VERSION = 1


def write_results(path: Path, header: dict, records: list[dict], *, status: str) -> dict:
    """status: `running` while a process writes the run, `finished`, or `interrupted` (it stopped on an error).

    A run killed outright cannot say so: its file stays `running`, and bench.report.run_status tells it apart
    from a live one by the run folder's lock.
    """
    assert status in STATUSES, status
    doc = {
        "schema_version": SCHEMA_VERSION,
        **header,
        "status": status,
        "generations": records,
    }

    # per run, beside the per-generation numbers: how far and how soon it collapsed (definitions: summary.py)
    doc["summary"] = summary_scores(doc)
    write_json(path, doc)
    return doc


# metric sample sizes (images scored) get names of their own in metrics.csv: a metric's `n_real` (the reference
# size) once overwrote the count of real images trained on (`n_real` from counts)
SCORED_COLUMNS = {"n_gen": "n_gen_scored", "n_real": "n_ref_scored", "n_train": "n_train_scored"}


def metric_column(key: str) -> str:
    """The CSV column of a metric key: sample sizes (`n_*`) never share a name with the training counts."""
    if key in SCORED_COLUMNS:
        return SCORED_COLUMNS[key]
    return f"{key}_scored" if key.startswith("n_") else key


# a list metric (class shares, a histogram) gets one column per entry up to this length; longer ones (Stacked
# MNIST's 1000 class shares) stay in results.json, summarised in the CSV by their scalar metrics
MAX_LIST_COLUMNS = 20


def flat_row(record: dict) -> dict:
    """One CSV row: counts, seconds, training diagnostics, scalar metrics, then one column per class share."""
    row = {"generation": record["generation"]}
    if "extractor" in record:  # the feature space that scored the row
        row["extractor"] = record["extractor"]
    row.update({f"n_{k}": v for k, v in record["counts"].items()})
    row.update({f"{k}_s": round(v, 3) for k, v in record["seconds"].items()})
    row.update({k: v for k, v in record["diagnostics"].items() if not isinstance(v, (list, dict))})
    if "healthy" in record:  # False: a warning says why (a failed training, not collapse); see results.json
        row["healthy"] = record["healthy"]
    metrics = record["metrics"]
    keys = [k for k in LEAD_METRICS if k in metrics] + [k for k in metrics if k not in LEAD_METRICS]
    for k in keys:
        v = metrics[k]
        if isinstance(v, list):
            if len(v) > MAX_LIST_COLUMNS:
                continue
            row.update({f"{k.removesuffix('s')}_{i}": x for i, x in enumerate(v)})
        elif not isinstance(v, dict):
            column = metric_column(k)
            assert column not in row, f"metrics.csv column {column!r} would overwrite another value"
            row[column] = v
    return row


def write_metrics_csv(path: Path, records: list[dict]) -> None:
    rows = [flat_row(r) for r in records]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    # names and texts come from configs and files: a cell a spreadsheet would run as a formula gets a leading '
    writer.writerow({c: csv_cell(c) for c in columns})
    writer.writerows(csv_row(r) for r in rows)
    write_text(path, buf.getvalue())
