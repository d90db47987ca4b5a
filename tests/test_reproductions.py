"""python -m bench.reproductions: verdict rules on known intervals, and the page built from tiny runs."""

import json
from types import SimpleNamespace

import pytest

from bench.analysis.aggregate import Estimate, estimate
from bench.analysis.reproductions.claims import ARMS
from bench.analysis.reproductions.evidence import ArmRuns, Evidence
from bench.analysis.reproductions.gaussian import law_rows
from bench.analysis.reproductions.gaussian import verdict as law_verdict
from bench.analysis.reproductions.verdicts import PARTLY, REPRODUCED, flat, sampling_bias, synthetic_loop
from bench.cli.reproductions import main as reproductions_main
from conftest import tiny_overrides


class FakeEvidence(Evidence):
    """Changes and gaps given as (mean, low, high) per (arm, metric)."""

    def __init__(self, changes: dict, gaps: dict | None = None):
        super().__init__({})
        self.changes, self.gaps = changes, gaps or {}

    def change(self, arm, metric, *, start=0, end=-1):
        return Estimate(*self.changes[arm, metric], 3)

    def gap(self, arm, baseline, metric, *, t=-1):
        return Estimate(*self.gaps[arm, metric], 3)

    def gap_mean(self, arm, baseline, metric):
        return Estimate(*self.gaps[arm, metric], 3)


COLLAPSE = {("replace", "fid"): (380, 368, 391), ("replace", "recall"): (-0.3, -0.4, -0.2)}
COLLAPSE[("replace", "coverage")] = (-0.2, -0.21, -0.18)


def test_the_synthetic_loop_claim_needs_the_collapse_and_a_flat_control():
    control = {("real", "fid"): (5.7, 2.0, 9.3), ("real", "recall"): (0, -0.1, 0.1), ("real", "coverage"): (0, -1, 1)}
    assert synthetic_loop(FakeEvidence({**COLLAPSE, **control})).verdict == REPRODUCED
    # +5.7 FID is detected, but under a tenth of the collapse's +380: flat. At +60 the control moves
    moving = {**control, ("real", "fid"): (60, 50, 70)}
    assert synthetic_loop(FakeEvidence({**COLLAPSE, **moving})).verdict == PARTLY
    no_collapse = {**COLLAPSE, ("replace", "recall"): (-0.3, -0.7, 0.1)}
    assert synthetic_loop(FakeEvidence({**no_collapse, **control})).verdict == "not reproduced"


def test_flat_means_no_detected_change_or_a_tenth_of_the_collapse():
    assert flat(Estimate(1.0, -1.0, 3.0, 3))
    assert not flat(Estimate(5.0, 1.0, 9.0, 3))
    assert flat(Estimate(5.0, 1.0, 9.0, 3), against=Estimate(100.0, 90.0, 110.0, 3))
    assert not flat(Estimate(5.0, None, None, 1)), "one seed has no interval: nothing is called flat"


def test_lower_temperature_must_keep_precision_to_reproduce():
    diversity = {("replace_cold", m): (-0.1, -0.15, -0.05) for m in ("recall", "coverage", "vendi")}
    kept = FakeEvidence({}, {**diversity, ("replace_cold", "precision"): (0.02, 0.01, 0.03)})
    lost = FakeEvidence({}, {**diversity, ("replace_cold", "precision"): (-0.02, -0.03, -0.01)})
    for ev in (kept, lost):  # precision is judged at every generation of the arms
        ev.arms = {k: fake_arm(k, {0: [1.0] * 3}) for k in ("replace", "replace_cold")}
    assert sampling_bias(kept).verdict == REPRODUCED
    lost_verdict = sampling_bias(lost)
    assert lost_verdict.verdict == PARTLY and "lower from generation 0" in lost_verdict.reasons[-1]


def fake_arm(key: str, fid_by_seed: dict[int, list[float]]) -> ArmRuns:
    runs = {
        seed: SimpleNamespace(results={"generations": [{"metrics": {"fid": v}} for v in values]})
        for seed, values in fid_by_seed.items()
    }
    return ArmRuns(ARMS[key], runs)


def test_paired_statistics_over_seeds():
    ev = Evidence(
        {
            "replace": fake_arm("replace", {0: [10, 20, 40], 1: [12, 26, 50], 2: [11, 30, 60]}),
            "real": fake_arm("real", {0: [10, 11, 9], 1: [12, 12, 13], 3: [0, 0, 0]}),
        }
    )
    change = ev.change("replace", "fid")
    assert change.mean == pytest.approx(39) and change.n == 3  # (30 + 38 + 49) / 3
    assert change == estimate([30, 38, 49])
    gap = ev.gap("replace", "real", "fid")
    assert gap == estimate([31, 37]), "paired over the seeds both arms have (0 and 1)"
    # averaged over generations: seed 0 (0 + 9 + 31) / 3, seed 1 (0 + 14 + 37) / 3
    assert ev.gap_mean("replace", "real", "fid") == estimate([40 / 3, 51 / 3])
    assert ev.missing(["replace", "real"]) == [] and ev.missing(["real"], min_seeds=4) == ["real"]


def test_the_gaussian_laws_hold_in_the_simulation():
    rows = law_rows(seeds=100)
    assert [r.generation for r in rows] == list(range(6))
    assert law_verdict(rows).verdict == REPRODUCED


def test_the_page_is_built_from_run_folders_by_one_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = tiny_overrides(n_train=300, generations=2)
    args = ["--claims", "synthetic_loop", "--seeds", "0,1", "--out", "page.md", *extra]
    assert reproductions_main(args) == 0
    page = (tmp_path / "page.md").read_text()
    assert "python -m bench -m loop=replace seed=0,1 " + " ".join(extra) in page
    # the table's FID cells are the mean ± the t half-width of the run folders' values
    runs = [
        json.loads(p.read_text()) for p in sorted((tmp_path / "outputs" / "mnist-vae-replace").glob("*/results.json"))
    ]
    assert len(runs) == 2
    for t, label in ((0, "gen 0"), (-1, "last")):
        e = estimate(r["generations"][t]["metrics"]["fid"] for r in runs)
        assert f"{e.mean:.0f} ± {e.half_width:.0f}" in page, label
    assert "| `loop=replace` | 2 |" in page and "**Verdict:" in page
    # rebuilt from the folders alone, the page is the same (nothing is rerun, nothing random)
    assert reproductions_main([*args[: -len(extra)], "--no-run", *extra]) == 0
    assert (tmp_path / "page.md").read_text() == page


def test_a_claim_without_runs_says_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert reproductions_main(["--claims", "replay", "--no-run", "--out", "page.md"]) == 0
    page = (tmp_path / "page.md").read_text()
    assert "**not run**" in page and "| `loop=replace` | 0 | not run" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "0"], "--seeds='0' gives 1 seed; an interval needs at least 2"),
        (["--seeds", "a,b"], "--seeds='a,b' must be integers"),
        (["--claims", "magic"], "--claims='magic': unknown ['magic']; allowed: synthetic_loop"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert reproductions_main([*args, "--no-run", "--out", "page.md"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "page.md").exists()


def test_the_readme_links_the_page_and_the_page_lists_every_claim():
    from pathlib import Path

    from bench.analysis.reproductions.claims import CLAIMS

    root = Path(__file__).resolve().parents[1]
    assert "(docs/reproductions.md)" in (root / "README.md").read_text()
    page = (root / "docs" / "reproductions.md").read_text()
    assert page.startswith("# Reproductions\n\nGenerated by `python -m bench.reproductions`")
    for claim in CLAIMS:
        assert f"## {claim.title}" in page, claim.key


def test_levelling_off_needs_three_generations_and_says_so():
    from bench.analysis.reproductions.verdicts import Verdict, _settled

    two = Evidence({"accumulate": fake_arm("accumulate", {0: [10, 20], 1: [12, 26]})})
    v = Verdict(PARTLY)
    assert _settled(two, "accumulate", v) is False  # it raised an IndexError (change from generation -3)
    assert v.reasons == ["accumulate: fewer than 3 generations, levelling off cannot be told"]
    flat_end = {0: [10, 20, 20, 20], 1: [12, 26, 27, 26], 2: [11, 30, 29, 30]}  # no change over the last two
    assert _settled(Evidence({"accumulate": fake_arm("accumulate", flat_end)}), "accumulate", Verdict(PARTLY))


def test_a_broken_results_json_is_said_not_silently_left_out(tmp_path, capsys):
    from bench.analysis.reproductions.evidence import collect

    (tmp_path / "results.json").write_text('{"fid": NaN}')
    assert collect([tmp_path], [], [0], {}) == {}
    err = capsys.readouterr().err
    assert "results.json" in err and "(skipped)" in err
