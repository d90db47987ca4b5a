"""End to end on data=tails and data=digits: the data set's own measurements reach results.json, metrics.csv and
the plots, through the generic hook (run.py names no data set)."""

from __future__ import annotations

import csv
import json

import pytest

from bench.config import compose
from bench.engine.run import run

TINY = [
    "loop.generations=2",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.num_threads=1",
]


@pytest.mark.slow
def test_tails_run_reports_minority_share_and_hue(tmp_path):
    cfg = compose(
        [
            "data=tails",
            *TINY,
            "data.n_train=300",
            "metrics.n_samples=200",
            "metrics.n_reference=400",
            "metrics.kid_subset_size=100",
            "metrics.kid_subsets=5",
            f"run_dir={tmp_path}",
        ]
    )
    results = run(cfg)
    floor = results["floor"]
    assert floor["minority_share"] == pytest.approx(0.1, abs=0.03) and floor["colorless_share"] == 0
    assert len(floor["hue_histogram"]) == 36
    for g in results["generations"]:
        m = g["metrics"]
        assert 0 <= m["minority_share"] <= 1 and len(m["hue_histogram"]) == 36
        assert g["extractor"].startswith("mnist_classifier@brightness:")
    assert results["metric_info"]["minority_share"]["higher_is_better"] is None
    assert results["feature_extractor"]["name"] == "mnist_classifier@brightness"
    assert results["evaluation"]["plots"]["file"] == "tails.png"
    assert "minority" in results["summary"]
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and "minority_share" in rows[0] and "hue_histogram_0" not in rows[0]
    for name in ("tails.png", "class_shares.png", "metrics.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_digits_run_in_seconds(tmp_path):
    results = run(compose(["data=digits", *TINY, f"run_dir={tmp_path}"]))
    assert results["dataset"]["image_shape"] == [1, 8, 8]
    assert results["evaluation"]["n_generated"] == 250 and results["evaluation"]["n_reference"] == 250
    assert results["feature_extractor"]["name"] == "digits_classifier"
    assert len(results["generations"]) == 2
