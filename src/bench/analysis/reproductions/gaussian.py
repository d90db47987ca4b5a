"""The Gaussian laws on the page: the oracle of tests/test_gaussian.py (`bench.analysis.gaussian_laws`), tabulated.

Not from run folders: the laws need hundreds of seeds on data inside [0, 255], which `simulate` runs through
the benchmark's own loop in seconds. Each generation's mean total variance gets a normal interval over the
seeds, Bonferroni-corrected over the generations (all of them hold together with 95% probability).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm  # type: ignore[import-untyped]

from bench.analysis import gaussian_laws as laws
from bench.analysis.reproductions.verdicts import NOT, REPRODUCED, Verdict


@dataclass(frozen=True)
class LawRow:
    generation: int
    expected: float  # E[tr Σ_t] under replace
    replace: tuple[float, float, float]  # mean, low, high over seeds
    accumulate: tuple[float, float, float]


def law_rows(seeds: int = laws.SEEDS) -> list[LawRow]:
    z = float(norm.ppf(1 - 0.05 / (2 * laws.T)))
    out = []
    replace, _ = laws.simulate("replace", seeds=seeds)
    accumulate, _ = laws.simulate("accumulate", seeds=seeds)

    def interval(x) -> tuple[float, float, float]:
        m, se = float(x.mean()), float(x.std()) / math.sqrt(len(x))
        return m, m - z * se, m + z * se

    for t, expected in enumerate(laws.expected_replace_variance()):
        out.append(LawRow(t, expected, interval(replace[:, t]), interval(accumulate[:, t])))
    return out


def verdict(rows: list[LawRow]) -> Verdict:
    v = Verdict(NOT)
    inside = all(r.replace[1] <= r.expected <= r.replace[2] for r in rows)
    first, last = rows[0], rows[-1]
    bounded = last.accumulate[1] > 0.8 * first.accumulate[0] and last.accumulate[1] > last.replace[2]
    v.reasons.append(
        f"replace: the expected E[tr Σ_t] lies inside the interval at {'every' if inside else 'not every'} generation"
        f" ({last.replace[0] / first.replace[0]:.3f} of generation 0's variance left at generation {last.generation};"
        f" theory {last.expected / first.expected:.3f})"
    )
    v.reasons.append(
        f"accumulate: generation {last.generation} keeps {last.accumulate[0] / first.accumulate[0]:.3f} of generation"
        f" 0's variance ({'bounded' if bounded else 'not bounded'}: above 0.8 and above replace)"
    )
    v.verdict = REPRODUCED if inside and bounded else NOT
    return v


PI2_6 = math.pi**2 / 6


@dataclass(frozen=True)
class MeanErrorRow:
    generation: int
    real: tuple[float, float, float]  # mean, low, high over seeds of ||mu_t - mu||^2
    accumulate: tuple[float, float, float]
    replace: tuple[float, float, float]
    theory_accumulate: float  # tr Σ / n · sum_{k <= t+1} 1/k²
    # paired by seed: the loop's error minus π²/6 times that seed's real error (averaged over the generations,
    # which it does not depend on); below 0 = under the bound
    accumulate_margin: tuple[float, float, float]
    replace_margin: tuple[float, float, float]


def mean_error_rows(seeds: int = laws.SEEDS) -> list[MeanErrorRow]:
    """The fitted mean's squared error per generation under real, accumulate and replace, with intervals as in
    `law_rows` (normal, Bonferroni over the generations); the seeds share their data, so the margins are paired."""
    z = float(norm.ppf(1 - 0.05 / (2 * laws.T)))
    errors = {loop: laws.mean_errors(loop, seeds=seeds) for loop in ("real", "accumulate", "replace")}
    bound = PI2_6 * errors["real"].mean(dim=1)  # per seed

    def interval(x) -> tuple[float, float, float]:
        m, se = float(x.mean()), float(x.std()) / math.sqrt(len(x))
        return m, m - z * se, m + z * se

    return [
        MeanErrorRow(
            t,
            real=interval(errors["real"][:, t]),
            accumulate=interval(errors["accumulate"][:, t]),
            replace=interval(errors["replace"][:, t]),
            theory_accumulate=theory,
            accumulate_margin=interval(errors["accumulate"][:, t] - bound),
            replace_margin=interval(errors["replace"][:, t] - bound),
        )
        for t, theory in enumerate(laws.expected_accumulate_error())
    ]


def pi2_6_verdict(rows: list[MeanErrorRow]) -> Verdict:
    """Reproduced when, at every generation, accumulate's error minus π²/6 times real data's (paired by seed) is
    detectably below 0, and replace's error at the last generation is detectably above that bound and above its
    own generation 0's."""
    v = Verdict(NOT)
    below = all(r.accumulate_margin[2] < 0 for r in rows)
    first, last = rows[0], rows[-1]
    grows = last.replace_margin[1] > 0 and last.replace[1] > first.replace[2]
    worst = max(rows, key=lambda r: r.accumulate_margin[2])
    v.reasons.append(
        f"accumulate − π²/6 x real, paired by seed: below 0 at {'every' if below else 'not every'} generation "
        f"(closest: generation {worst.generation}, {worst.accumulate_margin[0]:+.1f} "
        f"[{worst.accumulate_margin[1]:+.1f}, {worst.accumulate_margin[2]:+.1f}]); at generation {last.generation} "
        f"accumulate's error is {last.accumulate[0] / last.real[0]:.3f} x real's (the sum of 1/k² to "
        f"{last.generation + 1}: {last.theory_accumulate / (laws.TAU / laws.N):.3f}; the bound {PI2_6:.3f})"
    )
    v.reasons.append(
        f"replace: generation {last.generation}'s error {last.replace[0]:.1f} against generation 0's "
        f"{first.replace[0]:.1f}, {last.replace[0] / last.real[0]:.2f} x real's; − π²/6 x real "
        f"{last.replace_margin[0]:+.1f} [{last.replace_margin[1]:+.1f}, {last.replace_margin[2]:+.1f}] "
        f"({'grows past the bound' if grows else 'not detectably past it'})"
    )
    v.verdict = REPRODUCED if below and grows else NOT
    return v
