"""`python -m bench.critical_fraction PATHS... [--metrics ...] [--bootstrap B] [--json]`: the critical real fraction λ*.

How much real data must each generation replay so that retraining does not degrade the model? Given `loop=replay`
runs over a grid of `loop.real_fraction` values λ, several seeds each (PATHS: run folders, sweep folders or
results.json files, read and checked as the leaderboard reads them):

- A *family* is the runs of one track whose configs are equal except for seed, λ and the loop kind. `loop=real`
  (a fresh real draw each generation, the control) counts as λ = 1 and `loop=replace` (fully synthetic) as λ = 0
  when its synthetic_size equals data.n_train; a replay run at the same λ takes precedence over either.
- λ *passes* when, for every metric in CRITICAL_METRICS (fid, precision, recall, coverage, classes_covered; the
  ones with a direction in METRIC_INFO), the mean over seeds at every generation t = 1 .. T-1 stays on the good
  side of its generation-0 interval: at most its upper end for a lower-is-better metric (FID), at least its lower
  end for a higher-is-better one. Only the bad side counts: a curve that improves beyond its generation-0
  interval (more real data, more training) has not collapsed. A λ with fewer than two seeds has no interval and
  is left undecided.
- The generation-0 interval is the 95% interval in which the mean of generation t's n_t seeds falls when nothing
  changed since generation 0: mean_0 ± q · s_0 · sqrt(1/n_0 + 1/n_t), s_0 the standard deviation of the n_0
  generation-0 values and q the Student-t quantile (n_0 - 1 degrees of freedom) at 1 - 0.05 / (2m), m = (number of
  metrics) x (T - 1) checks (Bonferroni). So a fraction whose runs do not change at all (λ = 1 replays D_0 alone)
  passes with probability at least 95%. The plain 95% interval of the generation-0 mean is far narrower: it
  ignores the noise of generation t's own mean and the m checks, and on the default VAE it failed λ = 1 (no
  synthetic data at all) at 3 and at 5 seeds, on FID points within the seed-to-seed spread.
- λ* is the smallest grid value that passes *and above which every decided grid value passes too* (a failure
  above a pass is read as noise at the lower value, and is reported). No λ* when the largest decided value fails.
- Its interval, two ways: the grid bracket (λ_fail, λ*], λ_fail the next lower decided value (which failed),
  None when λ* is the smallest value tried; and a seed bootstrap: B resamples (default 1000, seeded) of the
  seeds with replacement, the same resampled seed list for every λ when all λ share their seeds (gen 0 of a seed
  is the same model at every λ), everything (gen-0 intervals and curve means) recomputed; resamples in which a
  λ gets fewer than two distinct seeds are redrawn (no interval from one seed). Reported: the 2.5 and 97.5
  percentiles (nearest rank) of the bootstrap λ*, the share of resamples with no λ*, and the distribution of λ*
  over the grid. With 3 seeds there are only 10 distinct resamples: read the bootstrap as a stability check
  and the bracket as the interval.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.analysis.aggregate import LEVEL, Run, Track, direction, estimate, t_quantile, value_text
from bench.errors import BenchError
from bench.report.summary import metric_registry, number

CRITICAL_METRICS = ("fid", "precision", "recall", "coverage", "classes_covered")
FAMILY_FREE_KEYS = ("loop.name", "loop._target_", "loop.real_fraction")


def real_fraction_of(run: Run) -> float | None:
    """λ of a run: replay's loop.real_fraction, 1 for loop=real, 0 for loop=replace at |S| = |D_0|; else None."""
    cfg = run.config
    name = cfg.get("loop.name")
    if name == "replay":
        return float(cfg["loop.real_fraction"])
    if name == "real":
        return 1.0
    if name == "replace" and cfg.get("loop.synthetic_size") == cfg.get("data.n_train"):
        return 0.0
    return None


def family_key(run: Run) -> str:
    rest = {k: v for k, v in run.config.items() if k not in FAMILY_FREE_KEYS}
    return json.dumps([run.track.fields, rest], sort_keys=True, default=str)


@dataclass
class GridPoint:
    real_fraction: float
    loop: str
    seeds: list[int]
    passes: bool | None  # None: undecided (fewer than two seeds, or a null value)
    reason: str  # the first failure, why it is undecided, or "" when it passes
    gen0: dict[str, list[float | None]] = field(default_factory=dict)  # metric -> [mean, ci_low, ci_high]


@dataclass
class CriticalFraction:
    track: Track
    family: str  # what sets this family apart in its track ("vae" when it is alone)
    config: dict[str, Any]  # the config the family shares (seed, λ and loop kind aside), flattened
    metrics: list[str]
    grid: list[GridPoint]
    lambda_star: float | None
    bracket: tuple[float | None, float | None]
    bootstrap: dict[str, Any]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["track"] = dict(self.track.__dict__)
        del out["config"]
        return out

    def sentence(self) -> str:
        """One line: λ*, its bracket and its bootstrap interval, or why there is none."""
        if self.lambda_star is None:
            decided = [p for p in self.grid if p.passes is not None]
            if not decided:
                return "λ* undecided: no grid value has two seeds or more"
            return f"no grid value passes (largest tried: λ = {_fmt(max(p.real_fraction for p in decided))})"
        low, high = self.bracket
        where = f"in ({_fmt(low)}, {_fmt(high)}]" if low is not None else f"≤ {_fmt(high)} (smallest value tried)"
        b = self.bootstrap
        boot = ""
        if b.get("n_resamples"):
            interval = f"[{_fmt(b['low'])}, {_fmt(b['high'])}]" if b["low"] is not None else "undefined"
            boot = f"; seed bootstrap 95% {interval}, no λ* in {b['share_none']:.0%} of {b['n_resamples']} resamples"
        return f"λ* = {_fmt(self.lambda_star)}, {where}{boot}"


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def _gen0_band(runs: Sequence[Run], metric: str, level: float) -> tuple[float | None, float | None, float | None]:
    e = estimate((r.results["generations"][0]["metrics"].get(metric) for r in runs), level=level)
    return e.mean, e.low, e.high


def _values(runs: Sequence[Run], metric: str, t: int) -> list[float]:
    vs = (number(r.results["generations"][t]["metrics"].get(metric)) for r in runs)
    return [v for v in vs if v is not None]


def acceptance_half_width(gen0: Sequence[float], n_t: int, *, checks: int, level: float = LEVEL) -> float:
    """Half-width of the interval around the generation-0 mean in which a mean of n_t new seeds falls with
    probability `level` over all `checks` (Bonferroni) when nothing changed: q · s_0 · sqrt(1/n_0 + 1/n_t)."""
    n0 = len(gen0)
    mean = math.fsum(gen0) / n0
    s0 = math.sqrt(math.fsum((x - mean) ** 2 for x in gen0) / (n0 - 1))
    q = t_quantile(1.0 - (1.0 - level) / (2 * checks), n0 - 1)
    return q * s0 * math.sqrt(1.0 / n0 + 1.0 / n_t)


def assess(runs: Sequence[Run], metrics: Sequence[str], *, level: float = LEVEL) -> tuple[bool | None, str]:
    """Does this λ's group of seeds stay on the good side of its generation-0 interval? (passes, first reason)."""
    if len({r.seed for r in runs}) < 2:
        return None, "needs two seeds or more for a generation-0 interval"
    n_gen = runs[0].track.generations
    checks = len(metrics) * max(n_gen - 1, 1)
    for metric in metrics:
        higher = direction(metric)
        gen0 = _values(runs, metric, 0)
        if len(gen0) < 2:
            return None, f"{metric} at generation 0 has fewer than two values"
        mean0 = math.fsum(gen0) / len(gen0)
        for t in range(1, n_gen):
            vt = _values(runs, metric, t)
            if len(vt) < len(runs):
                return None, f"{metric} at generation {t} is null in some seed"
            mean_t = math.fsum(vt) / len(vt)
            h = acceptance_half_width(gen0, len(vt), checks=checks, level=level)
            low, high = mean0 - h, mean0 + h
            band = f"the generation-0 interval {mean0:.4g} ± {h:.4g} ({checks} checks)"
            if higher is False and mean_t > high:
                return False, f"{metric} at generation {t}: mean {mean_t:.4g} > {high:.4g}, the top of {band}"
            if higher is True and mean_t < low:
                return False, f"{metric} at generation {t}: mean {mean_t:.4g} < {low:.4g}, the bottom of {band}"
    return True, ""


def lambda_star(points: Sequence[tuple[float, bool | None]]) -> tuple[float | None, tuple[float | None, float | None]]:
    """λ* from (λ, passes) pairs: the smallest passing λ with every larger decided λ passing; and its bracket."""
    decided = sorted((lam, ok) for lam, ok in points if ok is not None)
    star: float | None = None
    for lam, ok in reversed(decided):
        if not ok:
            break
        star = lam
    if star is None:
        return None, (None, None)
    below = [lam for lam, _ in decided if lam < star]
    return star, (below[-1] if below else None, star)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def bootstrap_lambda_star(
    by_lambda: dict[float, list[Run]], metrics: Sequence[str], *, n_resamples: int, seed: int, level: float = LEVEL
) -> dict[str, Any]:
    """Seed bootstrap of λ* (see the module docstring); {} when there is nothing to resample."""
    eligible = {lam: rs for lam, rs in by_lambda.items() if len({r.seed for r in rs}) >= 2}
    if n_resamples <= 0 or not eligible:
        return {}
    rng = random.Random(seed)  # nosec B311 # a seeded bootstrap of statistics, not a secret
    seed_sets = {lam: sorted(r.seed for r in rs) for lam, rs in eligible.items()}
    paired = len({tuple(s) for s in seed_sets.values()}) == 1
    by_seed = {lam: {r.seed: r for r in rs} for lam, rs in eligible.items()}
    stars: list[float] = []
    none = 0
    for _ in range(n_resamples):
        while True:  # redraw a resample that leaves a λ with one distinct seed: no interval from one seed
            if paired:
                seeds = next(iter(seed_sets.values()))
                draw = [rng.choice(seeds) for _ in seeds]
                picks = {lam: draw for lam in eligible}
            else:
                picks = {lam: [rng.choice(s) for _ in s] for lam, s in seed_sets.items()}
            if all(len(set(p)) >= 2 for p in picks.values()):
                break
        points = []
        for lam, draw in picks.items():
            resampled = [_reseeded(by_seed[lam][s], i) for i, s in enumerate(draw)]
            points.append((lam, assess(resampled, metrics, level=level)[0]))
        star, _ = lambda_star(points)
        if star is None:
            none += 1
        else:
            stars.append(star)
    stars.sort()
    distribution = {f"{lam:g}": stars.count(lam) / n_resamples for lam in sorted(set(stars))}
    return {
        "n_resamples": n_resamples,
        "paired": paired,
        "seed": seed,
        "low": _percentile(stars, 0.025) if stars else None,
        "high": _percentile(stars, 0.975) if stars else None,
        "share_none": none / n_resamples,
        "distribution": distribution,
    }


def _reseeded(run: Run, i: int) -> Run:
    """The same run under a distinct seed number: a resample may hold one seed twice and `assess` counts seeds."""
    return replace(run, seed=i)


def critical_fractions(
    runs: Sequence[Run],
    *,
    metrics: Sequence[str] = CRITICAL_METRICS,
    level: float = LEVEL,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[CriticalFraction]:
    """λ* of every family of replay runs in `runs` (see the module docstring); families without replay runs are
    left out. Metrics a family's runs do not carry (classes_covered without classes) are left out for it."""
    for m in metrics:
        if direction(m) is None:
            raise BenchError(f"metric {m!r} has no better direction in METRIC_INFO; λ* needs one (e.g. fid, recall)")
    families: dict[str, list[tuple[float, Run]]] = {}
    for r in runs:
        lam = real_fraction_of(r)
        if lam is not None:
            families.setdefault(family_key(r), []).append((lam, r))
    out: list[CriticalFraction] = []
    for members in families.values():
        if not any(r.config.get("loop.name") == "replay" for _, r in members):
            continue
        out.append(_family(members, metrics, level=level, n_resamples=n_resamples, seed=seed))
    _label_families(out)
    return sorted(out, key=lambda c: (c.track, c.family))


def _family(
    members: list[tuple[float, Run]], metrics: Sequence[str], *, level: float, n_resamples: int, seed: int
) -> CriticalFraction:
    notes: list[str] = []
    by_lambda: dict[float, list[Run]] = {}
    for lam in sorted({lam for lam, _ in members}):
        at = [r for m, r in members if m == lam]
        loops = {r.config["loop.name"] for r in at}
        if "replay" in loops and len(loops) > 1:
            dropped = sorted(loops - {"replay"})
            notes.append(f"λ = {lam:g}: replay runs used, loop={', '.join(dropped)} runs at the same λ left out")
            at = [r for r in at if r.config["loop.name"] == "replay"]
        elif len(loops) > 1:
            raise BenchError(f"λ = {lam:g} has runs of loops {sorted(loops)}; give one kind per value")
        by_lambda[lam] = sorted(at, key=lambda r: r.seed)
    first = next(iter(by_lambda.values()))[0]
    present = [m for m in metrics if all(m in r.summary["metrics"] for rs in by_lambda.values() for r in rs)]
    if len(present) < len(metrics):
        notes.append(f"not in every run, left out: {', '.join(m for m in metrics if m not in present)}")
    grid = []
    for lam, rs in by_lambda.items():
        ok, reason = assess(rs, present, level=level)
        bands = {m: list(_gen0_band(rs, m, level)) for m in present}
        grid.append(GridPoint(lam, rs[0].config["loop.name"], [r.seed for r in rs], ok, reason, bands))
    star, bracket = lambda_star([(p.real_fraction, p.passes) for p in grid])
    if star is not None:
        above_fail = [p.real_fraction for p in grid if p.passes is False and p.real_fraction > star]
        assert not above_fail, "λ* has no failing value above it by definition"
        below_pass = [p.real_fraction for p in grid if p.passes and p.real_fraction < star]
        if below_pass:
            notes.append(f"λ = {', '.join(f'{x:g}' for x in below_pass)} passed below a failing value: read as noise")
    return CriticalFraction(
        track=first.track,
        family="",
        config={k: v for k, v in first.config.items() if k not in FAMILY_FREE_KEYS},
        metrics=present,
        grid=grid,
        lambda_star=star,
        bracket=bracket,
        bootstrap=bootstrap_lambda_star(by_lambda, present, n_resamples=n_resamples, seed=seed, level=level),
        notes=notes,
    )


def _label_families(found: list[CriticalFraction]) -> None:
    """Name each family by its model and the config keys that set it apart from the other families of its track."""
    for c in found:
        others = [o.config for o in found if o.track == c.track and o is not c]
        varying = sorted(k for k in c.config if any(o.get(k) != c.config[k] for o in others))
        parts = [str(c.config.get("model.name", "?"))]
        parts += [f"{k}={value_text(c.config[k])}" for k in varying if k != "model.name"]
        c.family = " ".join(parts)


def report(found: Sequence[CriticalFraction]) -> str:
    """The user-readable text of `python -m bench.critical_fraction`."""
    if not found:
        return (
            "no replay grid: λ* needs loop=replay runs (loop.real_fraction values; loop=real counts as λ = 1, "
            "loop=replace as λ = 0) with two seeds or more per value"
        )
    lines: list[str] = []
    for c in found:
        lines += [f"track: {c.track.label()}", f"family: {c.family}   metrics: {', '.join(c.metrics)}"]
        lines.append(f"  {'λ':>5}  {'loop':<8} {'seeds':<12} result")
        for p in c.grid:
            verdict = {True: "passes", False: "fails", None: "undecided"}[p.passes]
            seeds = ",".join(map(str, p.seeds))
            lines.append(
                f"  {p.real_fraction:>5g}  {p.loop:<8} {seeds:<12} {verdict}{': ' + p.reason if p.reason else ''}"
            )
        lines.append(f"  {c.sentence()}")
        lines += [f"  note: {n}" for n in c.notes]
        lines.append("")
    return "\n".join(lines).rstrip()


def directed_metrics() -> list[str]:
    """The metrics λ* can be found for: those with a better direction in METRIC_INFO."""
    return [m for m in metric_registry() if direction(m) is not None]
