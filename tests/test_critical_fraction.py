"""λ*, the critical real fraction, on constructed grids of replay runs (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.analysis.aggregate import load_runs
from bench.analysis.critical_fraction import CRITICAL_METRICS, critical_fractions, lambda_star
from bench.cli.critical_fraction import main
from bench.errors import BenchError
from test_aggregate import make_results, write_run

# mean 100, s = 4: the gen-0 interval for a mean of 3 new seeds over 5 metrics x 3 generations (Bonferroni) is
# 100 ± t_{1 - 0.05/30, 2} * 4 * sqrt(2/3) = 100 ± 56.4
GEN0_FID = {0: 100.0, 1: 104.0, 2: 96.0}


def _curves(seed: int, *, collapses: bool) -> dict[str, list[float]]:
    """Four generations: flat (every metric as at generation 0) or collapsing (FID +100 from generation 1 on)."""
    fid0 = GEN0_FID[seed]
    share = 0.5 + 0.02 * seed
    return {
        "fid": [fid0] + [fid0 + (100.0 if collapses else 0.0)] * 3,
        "kid_mean": [1.0] * 4,
        "precision": [share] * 4,
        "recall": [share] * 4,
        "density": [1.0] * 4,
        "coverage": [share] * 4,
        "classes_covered": [10] * 4,
    }


def _grid(root: Path, fails: dict[float, bool], *, seeds=(0, 1, 2), real_as: str = "real") -> Path:
    """replace at 0, replay at 0 < λ < 1, `real_as` at 1 (real or replay); failing where fails[λ]."""
    for lam, collapses in fails.items():
        loop = "replace" if lam == 0 else real_as if lam == 1 else "replay"
        for s in seeds:
            doc = make_results(
                seed=s,
                loop=loop,
                real_fraction=lam if loop == "replay" else None,
                curves=_curves(s, collapses=collapses),
                extra_config={"data": {"name": "mnist", "n_train": 500}},
            )
            write_run(root, f"{loop}{lam}_s{s}", doc)
    return root


def test_lambda_star_is_the_smallest_passing_fraction_with_its_bracket(tmp_path):
    _grid(tmp_path, {0.0: True, 0.25: True, 0.5: False, 0.75: False, 1.0: False})
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=200)
    assert [(p.real_fraction, p.loop, p.passes) for p in c.grid] == [
        (0.0, "replace", False),
        (0.25, "replay", False),
        (0.5, "replay", True),
        (0.75, "replay", True),
        (1.0, "real", True),
    ]
    assert c.lambda_star == 0.5 and c.bracket == (0.25, 0.5)
    p = 1 - 0.05 / 30  # Student's t with 2 degrees of freedom has a closed-form quantile
    h = (2 * p - 1) / (2 * p * (1 - p)) ** 0.5 * 4 * (2 / 3) ** 0.5
    assert c.grid[1].reason == (
        f"fid at generation 1: mean 200 > {100 + h:.4g}, the top of the generation-0 interval 100 ± {h:.4g} (15 checks)"
    )
    assert c.metrics == list(CRITICAL_METRICS)
    # every resample keeps the same verdicts (the curves are flat or collapse in every seed)
    assert c.bootstrap["low"] == c.bootstrap["high"] == 0.5 and c.bootstrap["share_none"] == 0.0
    assert c.bootstrap["paired"] is True and c.bootstrap["distribution"] == {"0.5": 1.0}
    assert c.sentence().startswith("λ* = 0.5, in (0.25, 0.5]; seed bootstrap 95% [0.5, 0.5]")


def test_a_pass_below_a_failure_is_noise_and_noted(tmp_path):
    _grid(tmp_path, {0.25: False, 0.5: True, 0.75: False, 1.0: False})
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=0)
    assert c.lambda_star == 0.75 and c.bracket == (0.5, 0.75)
    assert any("0.25 passed below a failing value" in n for n in c.notes)
    assert c.bootstrap == {}


def test_no_passing_fraction_is_said(tmp_path):
    _grid(tmp_path, {0.25: True, 0.5: True})
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=50)
    assert c.lambda_star is None and c.bracket == (None, None)
    assert c.sentence() == "no grid value passes (largest tried: λ = 0.5)"
    assert c.bootstrap["share_none"] == 1.0 and c.bootstrap["low"] is None


def test_seed_noise_without_a_change_passes_where_the_plain_interval_of_the_mean_fails(tmp_path):
    # the FID of the default VAE retrained on D_0 alone (λ = 1), seeds 0-2: nothing changed, the means wander by
    # the seed-to-seed spread; the plain 95% interval of the generation-0 mean (236.5 ± 11.2) fails them
    fid = {0: [236.2, 236.2, 236.3, 239.3, 252.1], 1: [232.1, 248.8, 238.5, 249.6, 235.0], 2: [241.3, 246.9, 257.8]}
    fid[2] += [258.1, 245.2]
    for s, curve in fid.items():
        flat = {"kid_mean": 0.05, "precision": 0.8, "recall": 0.3, "density": 1.0, "coverage": 0.2}
        curves = {k: [v] * 5 for k, v in {**flat, "classes_covered": 10}.items()}
        doc = make_results(seed=s, loop="replay", real_fraction=1.0, curves={"fid": curve, **curves})
        write_run(tmp_path, f"s{s}", doc)
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=0)
    assert c.grid[0].passes is True and c.lambda_star == 1.0


def test_the_smallest_value_tried_has_an_open_bracket(tmp_path):
    _grid(tmp_path, {0.25: False, 0.5: False})
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=0)
    assert c.lambda_star == 0.25 and c.bracket == (None, 0.25)
    assert "≤ 0.25 (smallest value tried)" in c.sentence()


def test_one_seed_leaves_a_fraction_undecided(tmp_path):
    _grid(tmp_path, {0.25: True, 0.5: False})
    _grid(tmp_path, {0.75: False}, seeds=(0,))
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=20)
    assert [p.passes for p in c.grid] == [False, True, None]
    assert c.grid[2].reason == "needs two seeds or more for a generation-0 interval"
    assert c.lambda_star == 0.5  # an undecided value above does not count against it


def test_replay_at_1_is_preferred_to_the_real_loop(tmp_path):
    _grid(tmp_path, {0.5: False, 1.0: False})
    _grid(tmp_path, {1.0: False}, real_as="replay")
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=0)
    assert [(p.real_fraction, p.loop) for p in c.grid] == [(0.5, "replay"), (1.0, "replay")]
    assert any("loop=real runs at the same λ left out" in n for n in c.notes)


def test_families_split_on_other_config_and_need_replay_runs(tmp_path):
    _grid(tmp_path / "a", {0.0: True, 0.5: False})
    _grid(tmp_path / "a", {1.0: False})  # the control joins the family of its config, at λ = 1
    for s in (0, 1):
        doc = make_results(seed=s, loop="replay", real_fraction=0.5, model="ddpm", curves=_curves(s, collapses=False))
        write_run(tmp_path / "b", f"s{s}", doc)  # another model: a family of its own
        write_run(tmp_path / "c", f"s{s}", make_results(seed=s, loop="real", model="gan"))  # controls alone: no grid
    found = critical_fractions(load_runs([tmp_path]), n_resamples=0)
    assert [(c.family, [p.real_fraction for p in c.grid]) for c in found] == [("ddpm", [0.5]), ("vae", [0.0, 0.5, 1.0])]


def test_replace_counts_as_0_only_at_full_synthetic_size(tmp_path):
    for s in (0, 1, 2):
        doc = make_results(seed=s, loop="replace", curves=_curves(s, collapses=True))
        doc["config"]["loop"]["synthetic_size"] = 1000  # |S| = 2 |D_0|: not replay at λ = 0
        write_run(tmp_path, f"replace_s{s}", doc)
    _grid(tmp_path, {0.5: False})
    (c,) = critical_fractions(load_runs([tmp_path]), n_resamples=0)
    assert [p.real_fraction for p in c.grid] == [0.5]


def test_a_metric_without_a_direction_is_refused():
    with pytest.raises(BenchError, match="metric 'density' has no better direction"):
        critical_fractions([], metrics=["fid", "density"])
    assert lambda_star([]) == (None, (None, None))


def test_the_command_prints_the_grid_and_json(tmp_path, capsys):
    _grid(tmp_path, {0.0: True, 0.5: False, 1.0: False})
    assert main([str(tmp_path), "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "λ* = 0.5, in (0, 0.5]" in out and "fails: fid at generation 1" in out
    assert main([str(tmp_path), "--bootstrap", "0", "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["lambda_star"] == 0.5 and doc["track"]["dataset"] == "mnist"
    assert main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nowhere'}: no such file or folder"
