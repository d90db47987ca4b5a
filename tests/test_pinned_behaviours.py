"""Behaviours no other test pinned down, each with a known answer (issue 20, part 7): a planted fault in any of
them once survived the whole suite. The markdown table's shape with a `|` in a label is pinned in
test_report_safety.py."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.analysis.aggregate import direction, flat_scores, load_runs
from bench.analysis.critical_fraction import critical_fractions
from bench.analysis.leaderboard import build_leaderboard, cell
from bench.data.tails import COLORS, HueMeasure, hue_distance, image_hues
from bench.metrics.bootstrap import bootstrap, percentile_interval
from bench.report.summary import class_loss, minority_loss, summary_scores
from test_aggregate import DEFAULT_CURVES, make_results, write_run


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _md_row(md: str, entry: str) -> dict[str, str]:
    """The cells of one entry's row of the first markdown table, by column title."""
    lines = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[1] == entry:
            return dict(zip(header, cells, strict=True))
    raise AssertionError(f"no row {entry!r}")


# ---------------------------------------------------------------- class loss: censoring and direction

FLAT_SHARES = [[0.1] * 10] * 3  # every class at its real share in every generation: no loss
LOST_SHARES = [[0.1] * 10, [0.1] * 10, [0.01] + [0.11] * 9]  # class 0 falls below 0.05 at generation 2


@pytest.fixture(scope="module")
def class_loss_board(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class_loss")
    write_run(root / "runs", "kept", make_results(loop="real", class_shares=FLAT_SHARES))
    write_run(root / "runs", "lost", make_results(loop="replace", class_shares=LOST_SHARES))
    return root


def test_a_run_without_a_class_loss_event_is_censored_at_T_and_shows_none(class_loss_board):
    kept = summary_scores(make_results(loop="real", class_shares=FLAT_SHARES))
    assert kept["class_loss"]["first_generation"] is None and kept["class_loss"]["first_loss_generation"] is None
    scores = flat_scores(kept)
    assert scores["class_loss.first_generation"] == scores["class_loss.first_loss_generation"] == 3  # T
    lost = flat_scores(summary_scores(make_results(loop="replace", class_shares=LOST_SHARES)))
    assert lost["class_loss.first_generation"] == lost["class_loss.first_loss_generation"] == 2

    out = class_loss_board / "out"
    build_leaderboard([class_loss_board / "runs"], out_dir=out, n_resamples=0)
    md = (out / "leaderboard.md").read_text()
    assert _md_row(md, "vae real")["class lost at gen ↑"] == "none"
    assert _md_row(md, "vae replace")["class lost at gen ↑"] == "2"
    rows = _read_csv(out / "leaderboard.csv")
    censored = {r["entry"]: float(r["mean"]) for r in rows if r["quantity"] == "class_loss.first_loss_generation"}
    assert censored == {"vae real": 3.0, "vae replace": 2.0}


def test_none_is_shown_only_when_every_seed_is_censored():
    from bench.analysis.aggregate import estimate

    assert cell(estimate([3.0, 3.0]), "class_loss.first_loss_generation", 3) == "none"
    assert cell(estimate([3.0]), "class_loss.first_generation", 3) == "none"
    assert cell(estimate([3.0, 1.0]), "class_loss.first_loss_generation", 3).startswith("2 ± ")
    assert cell(estimate([3.0]), "fid.last", 3) == "3"  # not an event: a value of 3 is just 3


def test_fewer_classes_below_the_threshold_is_better(class_loss_board):
    assert direction("class_loss.n_below_last") is False
    out = class_loss_board / "by_n_below"
    lines: list[str] = []
    build_leaderboard(
        [class_loss_board / "runs"], out_dir=out, n_resamples=0, rank_by="class_loss.n_below_last", echo=lines.append
    )
    rows = _read_csv(out / "leaderboard.csv")
    n_below = {r["entry"]: float(r["mean"]) for r in rows if r["quantity"] == "class_loss.n_below_last"}
    assert n_below == {"vae real": 0.0, "vae replace": 1.0}
    assert {r["entry"]: r["rank"] for r in rows} == {"vae real": "1", "vae replace": "2"}
    assert {r["higher_is_better"] for r in rows if r["quantity"] == "class_loss.n_below_last"} == {"false"}
    md = (out / "leaderboard.md").read_text()
    assert "Ranked within each track by **class_loss.n_below_last** (lower is better)" in md
    assert re.search(r"^\s+1\. vae real\s+class_loss\.n_below_last ↓ 0 ", lines[0], re.M), lines[0]


# ---------------------------------------------------------------- thresholds: exactly at the limit is not below


def test_a_minority_share_exactly_at_the_threshold_is_not_lost():
    def gens(values):
        return [{"generation": t, "metrics": {"minority_share": v}} for t, v in enumerate(values)]

    # threshold 0.5 x generation 0's 0.2 = 0.1 exactly (halving is exact in binary floating point)
    assert minority_loss(gens([0.2, 0.1, 0.1]), threshold=0.5) == {
        "gen0": 0.2,
        "threshold": 0.1,
        "first_generation": None,
    }
    assert minority_loss(gens([0.2, 0.1, 0.0999]), threshold=0.5)["first_generation"] == 2
    assert minority_loss(gens([0.2, 0.0999, 0.1]), threshold=0.5)["first_generation"] == 1
    assert minority_loss(gens([0.2, 0.05, 0.05]), threshold=0.25)["first_generation"] is None  # 0.25 x 0.2 = 0.05


def test_a_class_share_exactly_at_the_threshold_is_not_below():
    def gens(shares):
        return [{"generation": t, "metrics": {"class_shares": s}} for t, s in enumerate(shares)]

    real = [0.1, 0.9]
    at = class_loss(gens([[0.1, 0.9], [0.05, 0.95]]), real, threshold=0.5)  # 0.5 x 0.1 = 0.05: at, not below
    assert at is not None and at["n_below"] == [0, 0] and at["first_loss_generation"] is None
    below = class_loss(gens([[0.1, 0.9], [0.0499, 0.9501]]), real, threshold=0.5)
    assert below is not None and below["n_below"] == [0, 1] and below["first_loss_generation"] == 1


# ---------------------------------------------------------------- ranks


def test_equal_means_share_a_rank_and_the_next_rank_skips(tmp_path):
    fids = {"a": 150.0, "b": 150.0, "c": 200.0, "d": 200.0, "e": 90.0}
    for model, fid in fids.items():
        write_run(tmp_path / "runs", model, make_results(model=model, curves={**DEFAULT_CURVES, "fid": [fid] * 3}))
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    ranks = {r["entry"]: r["rank"] for r in _read_csv(tmp_path / "leaderboard.csv")}
    assert ranks == {"e replace": "1", "a replace": "2", "b replace": "2", "c replace": "4", "d replace": "4"}


def test_tie_ranks_1_1_3(tmp_path):
    for model, fid in {"a": 10.0, "b": 10.0, "c": 20.0}.items():
        write_run(tmp_path / "runs", model, make_results(model=model, curves={**DEFAULT_CURVES, "fid": [fid] * 3}))
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    md = (tmp_path / "leaderboard.md").read_text()
    assert [_md_row(md, f"{m} replace")["rank"] for m in "abc"] == ["1", "1", "3"]


# ---------------------------------------------------------------- the bootstrap's percentiles


def test_percentile_interval_on_known_quantiles():
    # 0, 1, ..., 1000: the p-quantile with linear interpolation is 1000 p exactly
    out = percentile_interval(torch.arange(1001, dtype=torch.float64))
    assert (out["low"], out["high"], out["mean"]) == (25.0, 975.0, 500.0)
    narrow = percentile_interval(torch.arange(1001, dtype=torch.float64), alpha=0.5)
    assert (narrow["low"], narrow["high"]) == (250.0, 750.0)
    # interpolated between order statistics: 0.025 x 10 = 0.25 of the way from 0 to 1
    out = percentile_interval(torch.arange(11, dtype=torch.float64) * 4)
    assert (out["low"], out["high"]) == (pytest.approx(1.0), pytest.approx(39.0))


def test_bootstrap_interval_of_a_statistic_with_a_known_distribution():
    # two rows 0 and 1 redrawn with replacement: their sum is 0, 1 or 2 with chances 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% percentiles of many replicates are 0 and 2, and their mean is near 1
    gen = torch.tensor([[0.0], [1.0]])
    out = bootstrap(lambda real, g: float(g.sum()), torch.zeros(3, 1), gen, n=2000, seed=0)
    assert (out["low"], out["high"]) == (0.0, 2.0)
    assert out["mean"] == pytest.approx(1.0, abs=0.05) and out["std"] == pytest.approx(math.sqrt(0.5), abs=0.03)
    # redrawing the real rows instead leaves the generated ones (and the statistic) fixed
    fixed = bootstrap(lambda real, g: float(g.sum()), torch.zeros(3, 1), gen, n=50, seed=0, resample="real")
    assert (fixed["low"], fixed["high"], fixed["std"]) == (1.0, 1.0, 0.0)


# ---------------------------------------------------------------- λ*'s seed bootstrap: paired and unpaired


def _outlier_grid(root: Path, seeds_at: dict[float, tuple[int, ...]]) -> None:
    """At each λ three seeds whose generation-0 FIDs are 10, 11, 12; the first two stay flat, the third jumps to
    1000 at generation 1. A resample passes exactly when it leaves the third seed out."""
    for lam, seeds in seeds_at.items():
        for i, s in enumerate(seeds):
            fid0 = 10.0 + i
            curves = {**DEFAULT_CURVES, "fid": [fid0, 1000.0 if i == 2 else fid0, fid0]}
            doc = make_results(seed=s, loop="replay", real_fraction=lam, curves=curves)
            write_run(root, f"l{lam}_s{s}", doc)


# resamples of three seeds with two distinct or more: 27 - 3 = 24; of them 6 leave the outlier out (0,0,1 ... 1,1,0)
P_PASS = 6 / 24


def test_lambda_values_sharing_their_seeds_are_resampled_together(tmp_path):
    _outlier_grid(tmp_path, {0.5: (0, 1, 2), 1.0: (0, 1, 2)})
    (c,) = critical_fractions(load_runs([tmp_path]), metrics=["fid"], n_resamples=4000, seed=1)
    assert [p.passes for p in c.grid] == [False, False] and c.lambda_star is None
    b = c.bootstrap
    assert b["paired"] is True
    # one draw for every λ: both pass or both fail, so λ* is 0.5 or none, never 1
    assert set(b["distribution"]) == {"0.5"}
    assert b["distribution"]["0.5"] == pytest.approx(P_PASS, abs=0.03)
    assert b["share_none"] == pytest.approx(1 - P_PASS, abs=0.03)
    assert b["low"] == b["high"] == 0.5


def test_lambda_values_with_different_seeds_are_resampled_apart(tmp_path):
    _outlier_grid(tmp_path, {0.5: (0, 1, 2), 1.0: (3, 4, 5)})
    (c,) = critical_fractions(load_runs([tmp_path]), metrics=["fid"], n_resamples=4000, seed=1)
    b = c.bootstrap
    assert b["paired"] is False
    # independent draws: λ* = 0.5 when both pass, 1 when only λ = 1 does, none when λ = 1 fails
    assert b["distribution"]["0.5"] == pytest.approx(P_PASS * P_PASS, abs=0.03)
    assert b["distribution"]["1"] == pytest.approx((1 - P_PASS) * P_PASS, abs=0.03)
    assert b["share_none"] == pytest.approx(1 - P_PASS, abs=0.03)
    assert (b["low"], b["high"]) == (0.5, 1.0)  # a quarter of the λ* values are 0.5, three quarters 1


# ---------------------------------------------------------------- tails: colours on the hue circle


def _painted(*rgbs: tuple[int, int, int]) -> torch.Tensor:
    """One 4 x 4 image per colour, every pixel that colour."""
    return torch.tensor([[[list(rgb)] * 4] * 4 for rgb in rgbs], dtype=torch.uint8).permute(0, 3, 1, 2)


def test_hues_wrap_around_red():
    # red is 0°, magenta 300°, and 340° / 20° (pink-red, orange-red) average to red, not to cyan (180°)
    hues = image_hues(_painted(COLORS["red"], COLORS["magenta"], (255, 0, 85), (255, 85, 0)))
    assert hues[:2].tolist() == [0.0, 300.0]
    assert hues[2].item() == pytest.approx(340.0) and hues[3].item() == pytest.approx(20.0)
    half = torch.cat([_painted((255, 0, 85))[..., :2], _painted((255, 85, 0))[..., 2:]], dim=3)
    mean = image_hues(half).item()
    assert float(hue_distance(torch.tensor([mean], dtype=torch.float64), 0.0)) < 1e-9, mean
    assert hue_distance(torch.tensor([350.0, 10.0, 180.0, 190.0]), 0.0).tolist() == [10.0, 10.0, 180.0, 170.0]


def test_tails_classification_with_red_as_the_minority_colour():
    m = HueMeasure(minority_rgb=COLORS["red"], majority_rgb=COLORS["green"])
    assert (m.minority_hue, m.majority_hue) == (0.0, 120.0)
    # nearer red (0°) than green (120°) on the circle: red, magenta (300°: 60° from red, 180° from green), 340°;
    # yellow (60°) and blue (240°) are as near one as the other: not minority; cyan (180°) is green's side
    images = _painted(
        COLORS["red"], COLORS["magenta"], (255, 0, 85), COLORS["yellow"], COLORS["blue"], COLORS["cyan"], (0, 0, 0)
    )
    out = m(images, None)
    assert out["minority_share"] == 3 / 7 and out["colorless_share"] == 1 / 7
    hist = out["hue_histogram"]
    assert hist[0] == hist[30] == hist[34] == hist[6] == hist[24] == hist[18] == pytest.approx(1 / 7)


def test_tails_classification_with_red_as_the_majority_colour():
    m = HueMeasure(minority_rgb=COLORS["blue"], majority_rgb=COLORS["red"])
    # blue 240°: the boundary runs through 120° and 300°; magenta (300°) ties, 340° is red's side, cyan blue's
    out = m(_painted(COLORS["red"], (255, 0, 85), COLORS["magenta"], COLORS["cyan"], COLORS["blue"]), None)
    assert out["minority_share"] == 2 / 5


# ---------------------------------------------------------------- accumulate's budget


def _accumulate_context(seed: int, *, n: int = 40, m: int = 30, empty_from: int | None = None):
    from bench.loops import LoopContext

    # pixel 0 says the source (0: D_0, s + 1: S_s), pixel 1 the position inside it
    def part(source: int, size: int) -> torch.Tensor:
        x = torch.zeros(size, 1, 1, 2, dtype=torch.uint8)
        x[:, 0, 0, 0], x[:, 0, 0, 1] = source, torch.arange(size)
        return x

    initial = part(0, n)
    synthetic = lambda s: part(s + 1, 0 if empty_from is not None and s >= empty_from else m)
    return LoopContext(
        seed=seed, initial=initial, real_pool=initial, initial_index=torch.arange(n), synthetic=synthetic
    )


def test_accumulate_budget_draws_every_source_in_proportion(tmp_path):
    from bench.loops.accumulate import Accumulate

    loop = Accumulate(budget=65, synthetic_size=30, generations=5)
    counts = torch.zeros(4)
    for seed in range(200):
        ts = loop.training_set(3, _accumulate_context(seed))
        assert len(ts.images) == 65 and ts.n_real == int((ts.images[:, 0, 0, 0] == 0).sum())
        counts += torch.bincount(ts.images[:, 0, 0, 0].long(), minlength=4)
    # 65 of 130 images: half of each source on average (D_0: 40 -> 20, each S_s: 30 -> 15)
    mean = (counts / 200).tolist()
    assert mean == pytest.approx([20.0, 15.0, 15.0, 15.0], abs=0.6)


def test_accumulate_budget_subsample_differs_per_generation_and_repeats_on_resume():
    from bench.loops.accumulate import Accumulate

    loop = Accumulate(budget=65, synthetic_size=30, generations=5)
    ctx = _accumulate_context(0, empty_from=3)  # S_3 is empty: generations 3 and 4 subsample the same 130 images

    def kept(t: int) -> list[tuple[int, int]]:
        images = loop.training_set(t, ctx).images
        return sorted(map(tuple, images[:, 0, 0].tolist()))

    assert kept(3) == kept(3), "the same draw when a generation is recomposed (resume)"
    assert kept(3) != kept(4), "each generation draws its own subsample"
    assert kept(3) != sorted(map(tuple, loop.training_set(3, _accumulate_context(1)).images[:, 0, 0].tolist()))


# ---------------------------------------------------------------- resample gives a generation's samples back

TINY = [
    "data=digits",
    "model=gaussian",
    "loop.generations=2",
    "metrics.n_samples=200",
    "metrics.n_reference=300",
    "metrics.kid_subset_size=100",
    "metrics.kid_subsets=5",
    "trainer.enable_progress_bar=false",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from bench.config import compose
    from bench.engine.run import run

    run_dir = tmp_path_factory.mktemp("pinned") / "run"
    assert run(compose([*TINY, f"run_dir={run_dir}"]))["status"] == "finished"
    return run_dir


def test_resampling_generation_1_with_unchanged_settings_gives_its_samples_back(tiny_run):
    from bench.cli.resample import resample

    record = resample(tiny_run, 1, {})
    original = np.load(tiny_run / "gen_001" / "samples.npy")
    again = np.load(tiny_run / "gen_001" / "resampled" / "as_run" / "samples.npy")
    assert again.dtype == np.uint8 and len(again) == 200
    assert np.array_equal(again, original[: len(again)])
    assert not np.array_equal(again, np.load(tiny_run / "gen_000" / "samples.npy")[: len(again)]), "generation 1's"
    assert record["metrics"] == record["run_metrics"], "the same images score the same"
