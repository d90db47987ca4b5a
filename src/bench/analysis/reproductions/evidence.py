"""The runs of each arm, found in run folders by their config, and the seed statistics the verdicts use.

A run belongs to an arm when its resolved config (seed and the keys that do not change results aside,
`bench.analysis.aggregate.result_config`) equals the config `python -m bench <arm overrides> <extra>` would run.
Statistics pair runs by seed: generation 0 of `loop=replace` and `loop=real` with the same seed is the same
model, so a difference between arms at one seed removes the seed's own luck. Every interval is the 95%
Student-t interval over seeds (`bench.analysis.aggregate.estimate`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from bench.analysis.aggregate import Estimate, Run, estimate, load_runs, result_config, warn_stderr
from bench.analysis.reproductions.claims import Arm
from bench.config import compose
from bench.report.summary import number


def arm_config(arm: Arm, extra: Sequence[str] = ()) -> dict:
    """The result config of the arm's runs (what identifies them in a run folder)."""
    cfg = compose([*arm.overrides, *extra, "run_dir=."])  # run_dir names no result; it must only resolve
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    return result_config({str(k): v for k, v in config.items()})


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


@dataclass
class ArmRuns:
    arm: Arm
    runs: dict[int, Run] = field(default_factory=dict)  # seed -> its finished run

    @property
    def seeds(self) -> list[int]:
        return sorted(self.runs)

    @property
    def generations(self) -> int:
        return min((len(r.results["generations"]) for r in self.runs.values()), default=0)

    def values(self, metric: str, t: int) -> dict[int, float | None]:
        """seed -> the metric at generation t (negative t counts from the last)."""
        out: dict[int, float | None] = {}
        for seed, run in self.runs.items():
            out[seed] = number(run.results["generations"][t]["metrics"].get(metric))
        return out

    def at(self, metric: str, t: int) -> Estimate:
        return estimate(self.values(metric, t).values())


def arm_keys(arms: Sequence[Arm], extra: Sequence[str] = ()) -> dict[str, str]:
    """{arm key: the identity its runs have in a run folder} (one Hydra compose per arm)."""
    return {arm.key: _key(arm_config(arm, extra)) for arm in arms}


def collect(paths: Sequence[str | Path], arms: Sequence[Arm], seeds: Sequence[int], keys: dict[str, str]):
    """{arm key: ArmRuns} of the finished runs under `paths` with the given seeds; `keys` from `arm_keys`."""
    by_config: dict[str, list[Run]] = {}

    # a broken results.json is said (one line); unfinished runs, common under outputs/, are left out quietly
    def warn(message: str) -> None:
        if message.endswith("(skipped)"):
            warn_stderr(message)

    for run in load_runs(paths, skip_invalid=True, warn=warn) if paths else []:
        by_config.setdefault(_key(run.config), []).append(run)
    out: dict[str, ArmRuns] = {}
    for arm in arms:
        found = ArmRuns(arm)
        for run in by_config.get(keys[arm.key], []):
            if run.seed in seeds:
                found.runs[run.seed] = run
        out[arm.key] = found
    return out


class Evidence:
    """Paired seed statistics over the arms' runs."""

    def __init__(self, arms: dict[str, ArmRuns]):
        self.arms = arms

    def change(self, arm: str, metric: str, *, start: int = 0, end: int = -1) -> Estimate:
        """Mean and interval over seeds of (metric at generation `end`) − (metric at generation `start`)."""
        a, b = self.arms[arm].values(metric, end), self.arms[arm].values(metric, start)
        return estimate(_diff(a[s], b[s]) for s in a)

    def gap(self, arm: str, baseline: str, metric: str, *, t: int = -1) -> Estimate:
        """Mean and interval over the seeds both arms have of arm − baseline at generation t."""
        a, b = self.arms[arm].values(metric, t), self.arms[baseline].values(metric, t)
        return estimate(_diff(a[s], b[s]) for s in sorted(a.keys() & b.keys()))

    def gap_mean(self, arm: str, baseline: str, metric: str) -> Estimate:
        """Mean and interval over seeds of arm − baseline averaged over all generations (the area between the
        curves over the number of generations): a faster loss shows here even when both end at the floor."""
        n = min(self.arms[arm].generations, self.arms[baseline].generations)
        per_seed: dict[int, list[float | None]] = {}
        for t in range(n):
            a, b = self.arms[arm].values(metric, t), self.arms[baseline].values(metric, t)
            for s in a.keys() & b.keys():
                per_seed.setdefault(s, []).append(_diff(a[s], b[s]))
        return estimate(
            None if any(d is None for d in ds) else sum(d for d in ds if d is not None) / len(ds)
            for ds in per_seed.values()
        )

    def as_roles(self, roles: dict[str, str]) -> Evidence:
        """The same runs with arms renamed {rule's name: arm key}: a rule written for `replace` and `real` judges
        the diffusion arms `ldm_replace` and `ldm_real` unchanged."""
        return Evidence({role: self.arms[key] for role, key in roles.items()})

    def missing(self, keys: Sequence[str], min_seeds: int = 2) -> list[str]:
        """The arms among `keys` with fewer than `min_seeds` finished runs (no interval without two)."""
        return [k for k in keys if len(self.arms[k].runs) < min_seeds]


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b
