"""python -m bench.reproductions: verdict rules on known intervals, and the page built from tiny runs."""

import json
from types import SimpleNamespace

import pytest

from bench.analysis.aggregate import Estimate, estimate
from bench.analysis.reproductions.claims import ALL_CLAIMS, ARMS
from bench.analysis.reproductions.evidence import ArmRuns, Evidence
from bench.analysis.reproductions.gaussian import law_rows
from bench.analysis.reproductions.gaussian import verdict as law_verdict
from bench.analysis.reproductions.judge import judge
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


def fake_arm(key: str, fid_by_seed: dict[int, list[float]], **others: dict[int, list[float]]) -> ArmRuns:
    """An arm whose seeds have these FIDs by generation (and any other metric given the same way)."""
    runs = {
        seed: SimpleNamespace(
            results={
                "generations": [
                    {"metrics": {"fid": v, **{m: others[m][seed][t] for m in others}}} for t, v in enumerate(values)
                ]
            }
        )
        for seed, values in fid_by_seed.items()
    }
    return ArmRuns(ARMS[key], runs)


def test_a_diffusion_claim_is_judged_by_the_vae_claims_rule_on_its_own_arms():
    collapsing = {0: [23, 44, 68], 1: [30, 55, 80], 2: [29, 50, 77]}
    falling = {0: [0.8, 0.7, 0.6], 1: [0.8, 0.72, 0.62], 2: [0.81, 0.69, 0.58]}
    flat_fid = {0: [23, 24, 22], 1: [30, 29, 31], 2: [29, 30, 29]}
    flat_tail = {0: [0.8, 0.81, 0.8], 1: [0.8, 0.79, 0.8], 2: [0.81, 0.8, 0.82]}
    claim = next(c for c in ALL_CLAIMS if c.key == "synthetic_loop_ldm")
    assert claim.arms == ("ldm_replace", "ldm_real") and claim.same_rule_as == "synthetic_loop"
    replace = fake_arm("ldm_replace", collapsing, recall=falling, coverage=falling)
    real = fake_arm("ldm_real", flat_fid, recall=flat_tail, coverage=flat_tail)
    # the VAE's arms are absent: the rule reads the diffusion arms under the names it knows
    verdict = judge(claim, Evidence({"ldm_replace": replace, "ldm_real": real}))
    assert verdict.verdict == REPRODUCED and verdict.reasons[0].startswith(
        "replace, fid gen 0 → last: +47.7"
    )  # (45+50+48)/3
    moving = fake_arm("ldm_real", collapsing, recall=falling, coverage=falling)
    assert judge(claim, Evidence({"ldm_replace": replace, "ldm_real": moving})).verdict == PARTLY


def test_the_long_horizon_accumulate_claim_tells_levelling_off_from_still_rising():
    claim = next(c for c in ALL_CLAIMS if c.key == "accumulate_mnist_v1")
    assert claim.same_rule_as == "accumulate"
    assert all("protocol=mnist-v1" in ARMS[a].overrides for a in claim.arms)  # the protocol's 10 generations
    rising = {s: [100 + 40 * t + s for t in range(10)] for s in range(3)}
    worse = {s: [0.6 - 0.05 * t + 0.01 * s for t in range(10)] for s in range(3)}
    levelled = {s: [100 + min(t, 4) * 10 + s + 0.3 * (t % 2) for t in range(10)] for s in range(3)}
    kept = {s: [0.6 - 0.01 * min(t, 4) + 0.01 * s for t in range(10)] for s in range(3)}
    replace = fake_arm("v1_replace", rising, **{m: worse for m in ("precision", "recall", "coverage")})
    bounded = {k: fake_arm(k, levelled, **{m: kept for m in ("precision", "recall", "coverage")})
               for k in ("v1_accumulate", "v1_accumulate_budget")}  # fmt: skip
    verdict = judge(claim, Evidence({"v1_replace": replace, **bounded}))
    assert verdict.verdict == REPRODUCED and "levels off" in verdict.reasons[-1]
    # still rising at the end (a slower replace): better than replace, but not bounded
    slower = {s: [100 + 20 * t + s for t in range(10)] for s in range(3)}
    growing = {k: fake_arm(k, slower, **{m: kept for m in ("precision", "recall", "coverage")}) for k in bounded}
    verdict = judge(claim, Evidence({"v1_replace": replace, **growing}))
    assert verdict.verdict == PARTLY and "still worsens" in verdict.reasons[-1]


def test_every_claim_has_a_rule_and_its_arms():
    from bench.analysis.reproductions.recent_rules import RECENT_RULES
    from bench.analysis.reproductions.verdicts import RULES

    for claim in ALL_CLAIMS:
        assert set(claim.arms) <= set(ARMS), claim.key
        if claim.key not in ("gaussian", "pi2_6"):  # decided by the Gaussian oracle, without run folders
            assert (claim.same_rule_as or claim.key) in {**RULES, **RECENT_RULES}, claim.key
        assert {arm for _, arm in claim.arm_roles} <= set(claim.arms), claim.key


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


@pytest.mark.parametrize(
    ("doc", "flag", "which"),
    [
        ("reproductions.md", "", "CLAIMS"),
        ("reproductions_diffusion.md", " --diffusion", "DIFFUSION_CLAIMS"),
        ("reproductions_mnist_v1.md", " --page mnist-v1", "PROTOCOL_CLAIMS"),
        ("reproductions_recent.md", " --page recent", "RECENT_CLAIMS"),
    ],
)
def test_the_readme_links_each_page_and_each_page_lists_its_claims(doc, flag, which):
    from pathlib import Path

    from bench.analysis.reproductions import claims

    root = Path(__file__).resolve().parents[1]
    assert f"(docs/{doc})" in (root / "README.md").read_text()
    page = (root / "docs" / doc).read_text()
    assert page.startswith(f"# Reproductions\n\nGenerated by `python -m bench.reproductions{flag}")
    for claim in getattr(claims, which):
        assert f"## {claim.title}" in page, claim.key


def test_the_diffusion_page_names_the_latent_flow_runs_it_needs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert reproductions_main(["--diffusion", "--no-run"]) == 0
    page = (tmp_path / "docs" / "reproductions_diffusion.md").read_text()
    # the arms run the CPU-budget preset (conf/experiment/ldm_cpu.yaml), and the page says so
    assert "python -m bench -m model=ldm experiment=ldm_cpu loop=replace loop.generations=3 seed=0,1,2" in page
    assert "| `model=ldm` `experiment=ldm_cpu` `loop=real` (control) | 0 | not run" in page and "**not run**" in page
    assert "Generated by `python -m bench.reproductions --diffusion`" in page


def test_claims_choose_their_page_and_the_page_names_the_command_that_rebuilds_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # diffusion claims alone go to the diffusion page, never over the VAE page
    assert reproductions_main(["--claims", "replay_ldm", "--seeds", "0,1", "--no-run"]) == 0
    assert not (tmp_path / "docs" / "reproductions.md").exists()
    page = (tmp_path / "docs" / "reproductions_diffusion.md").read_text()
    assert "Generated by `python -m bench.reproductions --diffusion --claims replay_ldm --seeds 0,1`" in page


@pytest.mark.parametrize("args", [["--claims", "replay,replay_ldm"], ["--diffusion", "--claims", "replay"]])
def test_one_page_at_a_time(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    assert reproductions_main([*args, "--no-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "belong to the" in err and "one page at a time" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "docs").exists()


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


def test_a_page_rebuilt_from_its_archived_results_is_the_same_page(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from bench.config import compose
    from test_aggregate import DEFAULT_CURVES, make_results, write_run

    monkeypatch.chdir(tmp_path)
    claim = next(c for c in ALL_CLAIMS if c.key == "synthetic_loop")
    for k in claim.arms:
        for seed in (0, 1):
            cfg = OmegaConf.to_container(compose([*ARMS[k].overrides, f"seed={seed}", "run_dir=."]), resolve=True)
            fid = [40.0 + seed, 80.0, 120.0, 160.0, 200.0] if k == "replace" else [40.0 + seed] * 5
            curves = {**{m: v[:1] * 5 for m, v in DEFAULT_CURVES.items()}, "fid": fid}
            doc = make_results(seed=seed, curves=curves, n_generated=cfg["metrics"]["n_samples"])
            doc["config"] = cfg
            write_run(tmp_path / "outputs", f"{k}_{seed}", doc)
    args = ["--claims", "synthetic_loop", "--seeds", "0,1", "--no-run", "--out", "page.md"]

    def page(*more: str) -> str:
        assert reproductions_main([*args, *more]) == 0
        return "\n".join(x for x in (tmp_path / "page.md").read_text().splitlines() if not x.startswith("Generated by"))

    made = page("--archive", "runs")
    assert "| `loop=replace` | 2 |" in made
    assert sorted(p.parent.parent.name for p in (tmp_path / "runs").rglob("results.json")) == sorted(claim.arms * 2)
    assert page("--outputs", "runs") == made
    assert page("--outputs", "outputs,runs") == made
