"""Per-class outputs stay readable at 1000 classes: no column per class in metrics.csv, summaries in the plots;
and the health gate asks no more classes of generation 0 than held-out real images cover."""

from __future__ import annotations

import csv

from omegaconf import OmegaConf

from bench.engine.health import generation_zero_health
from bench.report.plots import plot_class_shares, plot_measures, plot_metrics
from bench.report.results import write_metrics_csv


def record(t, shares, **metrics):
    return {
        "generation": t,
        "counts": {"real": 1, "synthetic": 0},
        "seconds": {"train": 1.0},
        "diagnostics": {},
        "metrics": {"fid": 1.0, "class_shares": shares, "n_gen": 1000, **metrics},
    }


def test_a_thousand_classes_get_summaries_not_a_column_each(tmp_path):
    uniform = [1 / 1000] * 1000
    lost = [0.002] * 500 + [0.0] * 500
    records = [
        record(0, uniform, modes_covered=1000, kl_uniform=0.0),
        record(1, lost, modes_covered=500, kl_uniform=0.69),
    ]
    write_metrics_csv(tmp_path / "m.csv", records)
    with open(tmp_path / "m.csv") as f:
        header = next(csv.reader(f))
    assert not any(c.startswith("class_share_") for c in header)
    assert {"modes_covered", "kl_uniform"} <= set(header) and len(header) < 20
    floor = {"class_shares": uniform, "n_gen": 1000, "modes_covered": 632, "kl_uniform": 0.5}
    plot_class_shares(tmp_path / "c.png", records, uniform, title="t", floor=floor)
    spec = {"file": "modes.png", "lines": [("modes_covered", "modes"), ("kl_uniform", "kl")], "histograms": []}
    plot_measures(tmp_path / "modes.png", records, floor, spec, title="t")
    assert (tmp_path / "c.png").stat().st_size > 1000 and (tmp_path / "modes.png").stat().st_size > 1000
    # with 1000 classes the reference subset misses some: KL to it is inf, null on disk; plots skip such a floor line
    plot_metrics(tmp_path / "m.png", records, {"fid": 1.0, "kl_gen_real": None, "recall": float("inf")}, title="t")
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_ten_classes_keep_their_columns(tmp_path):
    write_metrics_csv(tmp_path / "m.csv", [record(0, [0.1] * 10)])
    with open(tmp_path / "m.csv") as f:
        header = next(csv.reader(f))
    assert [c for c in header if c.startswith("class_share_")] == [f"class_share_{i}" for i in range(10)]


def test_health_gate_needs_no_more_classes_than_the_floor_covers():
    health = OmegaConf.create({"max_fid_over_floor": 60, "min_classes_covered": 1.0})
    floor = {"fid": 1.0, "classes_covered": 975}
    assert generation_zero_health({"fid": 2.0, "classes_covered": 975}, floor, n_classes=1000, health=health) == []
    warnings = generation_zero_health({"fid": 2.0, "classes_covered": 900}, floor, n_classes=1000, health=health)
    assert len(warnings) == 1 and "900 of 1000 classes covered, 975 needed" in warnings[0]
    # ten classes: all ten, as before
    ten = generation_zero_health(
        {"fid": 2.0, "classes_covered": 9}, {"fid": 1.0, "classes_covered": 10}, n_classes=10, health=health
    )
    assert "9 of 10 classes covered, 10 needed" in ten[0]
