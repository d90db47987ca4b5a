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
