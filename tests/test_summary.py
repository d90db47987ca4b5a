"""Summary scores of one run on hand-made curves: ratios, differences, mean levels, class and minority loss."""

from __future__ import annotations

import pytest

from bench.report.summary import SUMMARY_DEFINITIONS, curve_scores, summary_scores
from test_aggregate import make_results


def test_curve_scores_on_a_known_curve():
    s = curve_scores([100.0, 200.0, 400.0])
    assert s["gen0"] == 100.0 and s["last"] == 400.0
    assert s["ratio"] == 4.0 and s["difference"] == 300.0
    assert s["auc"] == pytest.approx(((100 + 200) / 2 + (200 + 400) / 2) / 2)  # 225: the mean level, ends half
    assert s["auc_ratio"] == pytest.approx(2.25)  # the headline: on average 2.25x generation 0


def test_auc_ratio_is_the_mean_level_of_the_curve_relative_to_its_start():
    assert curve_scores([50.0, 50.0, 50.0])["auc_ratio"] == 1.0  # no change over the run
    # scaling a curve (a worse model that collapses alike) leaves it unchanged; the level alone does not
    assert curve_scores([10.0, 30.0])["auc_ratio"] == curve_scores([100.0, 300.0])["auc_ratio"] == 2.0
    assert curve_scores([7.0])["auc_ratio"] == 1.0
    assert curve_scores([0.0, 1.0])["auc_ratio"] is None  # no ratio to a zero start
    assert curve_scores([1.0, None, 3.0])["auc_ratio"] is None


def test_curve_scores_edge_cases():
    assert curve_scores([7.0])["auc"] == 7.0  # one generation: the value itself
    zero = curve_scores([0.0, 0.5])
    assert zero["ratio"] is None and zero["difference"] == 0.5  # no ratio to a zero start
    hole = curve_scores([1.0, None, 3.0])
    assert hole["auc"] is None and hole["ratio"] == 3.0  # a null (non-finite on disk) voids what needs it
    assert curve_scores([1.0, None])["last"] is None and curve_scores([1.0, None])["ratio"] is None


def test_summary_covers_the_lead_metrics_first_and_skips_sample_sizes():
    s = summary_scores(make_results())
    keys = list(s["metrics"])
    assert keys[:7] == ["fid", "kid_mean", "precision", "recall", "density", "coverage", "classes_covered"]
    assert "n_gen" not in keys and "n_real" not in keys
    assert s["n_generations"] == 3 and s["version"] == 1
    assert s["metrics"]["classes_covered"] == {
        "gen0": 10,
        "last": 9,
        "ratio": 0.9,
        "difference": -1,
        "auc": 9.75,
        "auc_ratio": 0.975,
    }
    assert "minority" not in s


def test_class_loss_threshold_relative_to_the_real_share():
    real = [0.5, 0.3, 0.2]
    shares = [[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.8, 0.15, 0.05], [0.95, 0.05, 0.0]]
    doc = make_results(curves={"fid": [1.0, 2.0, 3.0, 4.0]}, class_shares=shares, real_class_shares=real)
    loss = summary_scores(doc)["class_loss"]
    # class 2 (real 0.2) at 0.1 is not below 0.1; at 0.05 it is (gen 2); class 1 (real 0.3) falls below 0.15 at gen 3
    assert loss["first_generation"] == 2 and loss["first_loss_generation"] == 2
    assert loss["n_below"] == [0, 0, 1, 2]
    assert loss["first_generation_per_class"] == {"2": 2, "1": 3}
    strict = summary_scores(doc, class_threshold=0.9)["class_loss"]  # below 0.9 p: class 2 goes at generation 1
    assert strict["first_generation"] == 1 and strict["n_below"] == [0, 1, 2, 2]


def test_a_class_missing_from_generation_0_is_not_a_collapse_event():
    shares = [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [1.0, 0.0, 0.0]]
    doc = make_results(curves={"fid": [1.0, 2.0, 3.0]}, class_shares=shares, real_class_shares=[0.4, 0.3, 0.3])
    loss = summary_scores(doc)["class_loss"]
    assert loss["first_generation"] == 0  # the literal definition: class 2 is below p/2 from the start
    assert loss["first_loss_generation"] == 2  # the collapse event: class 1, which generation 0 had, goes at gen 2


def test_class_loss_at_1000_classes_and_from_sparse_shares():
    n = 1000
    real = [1 / n] * n
    dense = [[1 / n] * n, [1 / n] * 500 + [0.0] * 500]
    dense[1][:500] = [2 / n] * 500
    doc = make_results(curves={"fid": [1.0, 2.0]}, class_shares=dense, real_class_shares=real)
    loss = summary_scores(doc)["class_loss"]
    assert loss["n_below"] == [0, 500] and loss["first_loss_generation"] == 1
    assert len(loss["first_generation_per_class"]) == 500
    sparse = [{str(c): 1 / n for c in range(n)}, {str(c): 2 / n for c in range(500)}]  # absent classes hold 0
    doc = make_results(curves={"fid": [1.0, 2.0]}, class_shares=sparse, real_class_shares=real)  # type: ignore[arg-type]
    assert summary_scores(doc)["class_loss"]["n_below"] == [0, 500]


def test_no_class_shares_no_class_loss():
    assert summary_scores(make_results())["class_loss"] is None


def test_minority_share_falls_below_half_its_generation_0_value():
    doc = make_results(curves={"fid": [1.0, 2.0, 3.0, 4.0], "minority_share": [0.1, 0.06, 0.049, 0.01]})
    minority = summary_scores(doc)["minority"]
    assert minority == {"gen0": 0.1, "threshold": 0.05, "first_generation": 2}
    assert summary_scores(doc)["metrics"]["minority_share"]["ratio"] == pytest.approx(0.1)
    steady = make_results(curves={"fid": [1.0, 2.0], "minority_share": [0.1, 0.09]})
    assert summary_scores(steady)["minority"]["first_generation"] is None


def test_every_score_is_defined_for_the_readme():
    s = summary_scores(make_results(class_shares=[[0.1] * 10] * 3))
    assert set(next(iter(s["metrics"].values()))) <= set(SUMMARY_DEFINITIONS)
    assert {f"class_loss.{k}" for k in ("first_generation", "first_loss_generation", "n_below")} <= set(
        SUMMARY_DEFINITIONS
    )
