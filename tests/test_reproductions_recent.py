"""The newest papers' claims (docs/reproductions_recent.md): the π²/6 bound by the Gaussian oracle, and each
run-based claim's rule on runs with known numbers."""

import math
from types import SimpleNamespace

import pytest

from bench.analysis import gaussian_laws as laws
from bench.analysis.reproductions.claims import ARMS, RECENT_CLAIMS
from bench.analysis.reproductions.evidence import ArmRuns, Evidence
from bench.analysis.reproductions.gaussian import PI2_6, mean_error_rows, pi2_6_verdict
from bench.analysis.reproductions.judge import judge
from bench.analysis.reproductions.recent_rules import RECENT_RULES
from bench.analysis.reproductions.verdicts import NOT, PARTLY, REPRODUCED
from bench.cli.reproductions import main as reproductions_main


def arm(key: str, metrics: dict[str, dict[int, list[float]]], verifier: float | None = None) -> ArmRuns:
    """An arm whose seeds have these metric values by generation (and a verifier of this accuracy)."""
    seeds = next(iter(metrics.values()))
    runs = {}
    for seed in seeds:
        gens = []
        for t in range(len(seeds[seed])):
            g = {"metrics": {m: by_seed[seed][t] for m, by_seed in metrics.items()}}
            if verifier is not None and t > 0:
                g["curation"] = {"sets": {f"S_{t - 1}": {"verifier": {"accuracy": verifier, "n_labelled": 1}}}}
            gens.append(g)
        runs[seed] = SimpleNamespace(results={"generations": gens})
    return ArmRuns(ARMS[key], runs)


def per_seed(values: list[float], spread: float = 0.01) -> dict[int, list[float]]:
    return {s: [v + spread * s for v in values] for s in range(3)}


def claim(key: str):
    return next(c for c in RECENT_CLAIMS if c.key == key)


def test_the_accumulate_error_follows_the_sum_of_inverse_squares_below_pi2_6():
    theory = laws.expected_accumulate_error()
    assert theory[0] == laws.TAU / laws.N and theory[1] == laws.TAU / laws.N * 1.25
    assert all(t < PI2_6 * laws.TAU / laws.N for t in theory)


def test_the_gaussian_oracle_reproduces_the_pi2_6_bound():
    rows = mean_error_rows(200)
    verdict = pi2_6_verdict(rows)
    assert verdict.verdict == REPRODUCED, verdict.reasons
    last = rows[-1]
    assert 1.0 < last.accumulate[0] / last.real[0] < PI2_6 < last.replace[0] / last.real[0]
    # the same seeds' data: generation 0 is one fit in all three loops
    assert rows[0].real == rows[0].accumulate == rows[0].replace


def test_the_pi2_6_rule_fails_an_accumulate_error_above_the_bound():
    rows = mean_error_rows(50)
    above = [r.__class__(**{**r.__dict__, "accumulate_margin": (5.0, 1.0, 9.0)}) for r in rows]
    assert pi2_6_verdict(above).verdict == NOT


def test_memorisation_of_the_own_data_rule():
    rising = {"memorized_share_dt": per_seed([0.3, 0.5, 0.7]), "entropy_dt": per_seed([150, 100, 50], 1)}
    steady = {"memorized_share_dt": per_seed([0.3, 0.3, 0.3]), "entropy_dt": per_seed([150, 151, 150], 1)}
    ev = Evidence({"replace": arm("replace", rising), "real": arm("real", steady)})
    assert judge(claim("memorisation_dt"), ev).verdict == REPRODUCED
    ev = Evidence({"replace": arm("replace", steady), "real": arm("real", steady)})
    assert judge(claim("memorisation_dt"), ev).verdict == NOT


def test_entropy_selection_rule():
    plain = {"fid": per_seed([200, 300, 350], 2), "entropy_dt": per_seed([1, 1, 1]), "recall": per_seed([0.5] * 3)}
    plain["coverage"] = plain["recall"]
    chosen = {**plain, "fid": per_seed([200, 260, 300], 2)}
    ev = Evidence(
        {"v1_accumulate": arm("v1_accumulate", plain), "v1_accumulate_entropy": arm("v1_accumulate_entropy", chosen)}
    )
    assert judge(claim("entropy_selection"), ev).verdict == REPRODUCED
    ev.arms["v1_accumulate_entropy"] = arm("v1_accumulate_entropy", plain)
    assert judge(claim("entropy_selection"), ev).verdict == NOT


def test_a_better_verifier_must_help_more():
    replace = arm("replace", {"fid": per_seed([200, 400, 600], 3)})
    gains = {10: 0, 100: 30, 1000: 80, 60000: 100}  # FID removed at generations 1 and 2
    arms = {
        f"verifier_{n}": arm(f"verifier_{n}", {"fid": per_seed([200, 400 - g, 600 - 2 * g], 3)}, verifier=0.3 + n / 1e5)
        for n, g in gains.items()
    }
    verdict = judge(claim("verifier_quality"), Evidence({"replace": replace, **arms}))
    assert verdict.verdict == REPRODUCED and "accuracy 0.900" in verdict.reasons[-2]
    same = {k: arm(k, {"fid": per_seed([200, 300, 400], 3)}, verifier=0.5) for k in arms}
    assert judge(claim("verifier_quality"), Evidence({"replace": replace, **same})).verdict == PARTLY
    # the most labels but the least accurate: judged by accuracy, the 60,000-label verifier is the weakest, and the
    # one that helps most (10 labels, accuracy 0.95) is the strongest
    swapped = dict(arms)
    swapped["verifier_10"] = arm("verifier_10", {"fid": per_seed([200, 300, 400], 3)}, verifier=0.95)
    swapped["verifier_60000"] = arm("verifier_60000", {"fid": per_seed([200, 400, 600], 3)}, verifier=0.2)
    verdict = judge(claim("verifier_quality"), Evidence({"replace": replace, **swapped}))
    assert verdict.verdict == REPRODUCED and "verifier_60000 − verifier_10" in verdict.reasons[-1]


def test_negative_guidance_must_start_better_and_collapse_slower():
    tails = {"recall": per_seed([0.7] * 3), "coverage": per_seed([0.4] * 3)}
    plain = arm("ldm_augment", {"fid": per_seed([85, 100, 110], 2), **tails})
    guided = arm("ldm_augment_sims", {"fid": per_seed([75, 82, 85], 2), **tails})
    ev = Evidence({"ldm_augment": plain, "ldm_augment_sims": guided})
    assert judge(claim("negative_guidance"), ev).verdict == REPRODUCED
    same_rise = arm("ldm_augment_sims", {"fid": per_seed([75, 90, 100], 2), **tails})
    assert (
        judge(claim("negative_guidance"), Evidence({"ldm_augment": plain, "ldm_augment_sims": same_rise})).verdict
        == PARTLY
    )


def test_weighted_replay_rule():
    base = {"fid": per_seed([200, 260, 300], 2), "recall": per_seed([0.8, 0.7, 0.6]), "coverage": per_seed([0.6] * 3)}
    better = {
        "fid": per_seed([200, 240, 270], 2),
        "recall": per_seed([0.8, 0.75, 0.7]),
        "coverage": per_seed([0.6, 0.62, 0.65]),
    }
    ev = Evidence(
        {
            "replay": arm("replay", better),
            "replay_half": arm("replay_half", base),
            "replay_golden": arm("replay_golden", better),
        }
    )
    assert judge(claim("weighted_replay"), ev).verdict == REPRODUCED
    # better than plain replay but no better than the same weighted draws at 0.5: the sampler, not the weight
    ev.arms["replay"] = arm("replay", base)
    ev.arms["replay_half"] = arm("replay_half", better)
    assert judge(claim("weighted_replay"), ev).verdict == NOT


def test_every_recent_claim_but_the_oracles_has_a_rule():
    assert {c.key for c in RECENT_CLAIMS} - set(RECENT_RULES) == {"pi2_6"}


def test_the_recent_page_is_made_by_one_command_and_says_what_is_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert reproductions_main(["--page", "recent", "--no-run", "--law-seeds", "100"]) == 0
    page = (tmp_path / "docs" / "reproductions_recent.md").read_text()
    assert page.startswith("# Reproductions\n\nGenerated by `python -m bench.reproductions --page recent`")
    assert "| Dey & Donoho 2024 (arXiv 2410.22812) | **reproduced** |" in page
    assert page.count("**not run**") == len(RECENT_CLAIMS) - 1
    assert "python -m bench -m loop=replay loop.real_weight=0.6180339887498949 seed=0,1,2" in page
    assert "python -m bench -m model=ldm experiment=ldm_cpu loop=augment loop.generations=3 " in page
    assert math.isclose(PI2_6, 1.6449, abs_tol=1e-4)


def test_a_verifier_accuracy_that_is_not_a_number_is_left_out():
    from bench.analysis.reproductions.recent_rules import verifier_accuracy

    good = arm("verifier_10", {"fid": per_seed([200, 300])}, verifier=0.4)
    assert verifier_accuracy(Evidence({"verifier_10": good}), "verifier_10") == pytest.approx(0.4)
    for bad in ("0.9", None, True, 7.0):
        run = arm("verifier_10", {"fid": per_seed([200, 300])}, verifier=0.4)
        for r in run.runs.values():
            r.results["generations"][1]["curation"]["sets"]["S_0"]["verifier"]["accuracy"] = bad
        assert verifier_accuracy(Evidence({"verifier_10": run}), "verifier_10") is None
