"""Verdict rules: each claim's qualitative statement as tests on paired seed intervals (`evidence.Evidence`).

An effect is *there* when its 95% interval over seeds excludes 0: "rises" (low > 0) or "falls" (high < 0).
"Flat" is the absence of a detected change: the interval contains 0, or the change is under a tenth of the
collapse it is compared with (3 seeds detect small drifts of the real control too). A claim is "reproduced"
when every part of it holds, "partly" when its main part holds, "not reproduced" when that fails, and "not
run" when an arm has fewer than 2 finished seeds. The rules are the ones written next to each verdict on the
page: this module is where they live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.analysis.aggregate import Estimate
from bench.analysis.reproductions.evidence import Evidence

REPRODUCED, PARTLY, NOT, NOT_RUN, MEASURED = "reproduced", "partly", "not reproduced", "not run", "measured"


@dataclass
class Verdict:
    verdict: str
    reasons: list[str] = field(default_factory=list)


def fmt(e: Estimate, digits: int = 3) -> str:
    if e.mean is None:
        return "n/a"
    if e.low is None or e.high is None:
        return f"{e.mean:+.{digits}g} (n={e.n}, no interval)"
    return f"{e.mean:+.{digits}g} [{e.low:+.{digits}g}, {e.high:+.{digits}g}]"


def rises(e: Estimate) -> bool:
    return e.low is not None and e.low > 0


def falls(e: Estimate) -> bool:
    return e.high is not None and e.high < 0


def worse(e: Estimate, higher_is_better: bool) -> bool:
    return falls(e) if higher_is_better else rises(e)


def better(e: Estimate, higher_is_better: bool) -> bool:
    return rises(e) if higher_is_better else falls(e)


def flat(e: Estimate, against: Estimate | None = None) -> bool:
    """No detected change: the interval holds 0, or the change is under a tenth of `against` (the collapse)."""
    if e.low is None or e.high is None or e.mean is None:
        return False
    if e.low <= 0 <= e.high:
        return True
    return against is not None and against.mean is not None and abs(e.mean) < 0.1 * abs(against.mean)


# (metric, higher is better) of the collapse every claim speaks of: quality and the tails
COLLAPSE = (("fid", False), ("recall", True), ("coverage", True))


def synthetic_loop(ev: Evidence) -> Verdict:
    v = Verdict(NOT)
    collapse = True
    for metric, hib in COLLAPSE:
        d = ev.change("replace", metric)
        ok = worse(d, hib)
        collapse &= ok
        v.reasons.append(f"replace, {metric} gen 0 → last: {fmt(d)} ({'worse' if ok else 'no detected worsening'})")
    control = True
    for metric, _ in COLLAPSE:
        d = ev.change("real", metric)
        ok = flat(d, ev.change("replace", metric))
        control &= ok
        v.reasons.append(f"real control, {metric} gen 0 → last: {fmt(d)} ({'flat' if ok else 'moves'})")
    v.verdict = REPRODUCED if collapse and control else PARTLY if collapse else NOT
    return v


def replay(ev: Evidence) -> Verdict:
    v = Verdict(NOT)
    slows = better_at_last(ev, "replay", "replace", "replay − replace", v)
    d = ev.change("replay", "fid")
    stops = flat(d)
    v.reasons.append(f"replay, fid gen 0 → last: {fmt(d)} ({'stopped' if stops else 'slowed, not stopped'})")
    v.verdict = REPRODUCED if slows else NOT
    return v


def better_at_last(ev: Evidence, arm: str, baseline: str, label: str, v: Verdict) -> bool:
    """arm − baseline at the last generation on every collapse metric, one reason each; True when better on all."""
    wins = True
    for metric, hib in COLLAPSE:
        g = ev.gap(arm, baseline, metric)
        ok = better(g, hib)
        wins &= ok
        v.reasons.append(f"last generation, {label}, {metric}: {fmt(g)} ({'better' if ok else 'no detected gain'})")
    return wins


def _beats_replace(ev: Evidence, arm: str, v: Verdict) -> bool:
    """Better than replace at the last generation on every collapse metric (the change since gen 0 is shown)."""
    beats = True
    for metric, hib in COLLAPSE:
        g = ev.gap(arm, "replace", metric)
        beats &= better(g, hib)
        v.reasons.append(
            f"{arm}: {metric} − replace's at the last generation {fmt(g)}; gen 0 → last {fmt(ev.change(arm, metric))}"
        )
    return beats


def _settled(ev: Evidence, arm: str, v: Verdict) -> bool:
    """Bounded within the run: no detected FID rise over the last two generations (the loop has levelled off)."""
    if ev.arms[arm].generations < 3:  # the last two generations' change needs three generations
        v.reasons.append(f"{arm}: fewer than 3 generations, levelling off cannot be told")
        return False
    late = ev.change(arm, "fid", start=-3, end=-1)
    ok = not rises(late)
    v.reasons.append(
        f"{arm}, fid over the last two generations: {fmt(late)} ({'levelled off' if ok else 'still rising'})"
    )
    return ok


def accumulate(ev: Evidence) -> Verdict:
    v = Verdict(NOT)
    beats = _beats_replace(ev, "accumulate", v)
    settled = _settled(ev, "accumulate", v)
    budget_beats = _beats_replace(ev, "accumulate_budget", v)
    budget_settled = _settled(ev, "accumulate_budget", v)
    v.verdict = REPRODUCED if beats and settled and budget_beats else PARTLY if beats else NOT
    if beats and settled:
        outcome = "beats replace and levels off"
    else:
        outcome = "beats replace but still worsens" if beats else "does not beat replace"
    budget = ("beats replace" if budget_beats else "does not beat replace") + (
        " and levels off" if budget_settled else ""
    )
    v.reasons.append(f"accumulate {outcome}; at a fixed budget it {budget}")
    return v


def fresh(ev: Evidence) -> Verdict:
    v = Verdict(NOT)
    beats = _beats_replace(ev, "fresh", v)
    settled = _settled(ev, "fresh", v)
    v.verdict = REPRODUCED if beats and settled else PARTLY if beats else NOT
    return v


def sampling_bias(ev: Evidence) -> Verdict:
    """Faster loss: a lower level averaged over the generations (both arms may end at the floor, where the last
    generation alone shows nothing). Precision kept: at no generation detectably lower."""
    v = Verdict(NOT)
    diversity = True
    for metric in ("recall", "coverage", "vendi"):
        g = ev.gap_mean("replace_cold", "replace", metric)
        ok = falls(g)
        diversity &= ok
        loss = "lower" if ok else "no detected loss"
        v.reasons.append(f"temperature 0.7 − 1.0, {metric} averaged over the generations: {fmt(g)} ({loss})")
    n = min(ev.arms["replace_cold"].generations, ev.arms["replace"].generations) if ev.arms else 0
    gaps = [ev.gap("replace_cold", "replace", "precision", t=t) for t in range(n)]
    lower = [t for t, g in enumerate(gaps) if falls(g)]
    kept = not lower
    v.reasons.append(
        "temperature 0.7 − 1.0, precision at generation 0, 1, ...: "
        + "; ".join(fmt(g) for g in gaps)
        + (" (never detectably lower: kept)" if kept else f" (lower from generation {lower[0]})")
    )
    v.verdict = REPRODUCED if diversity and kept else PARTLY if diversity else NOT
    return v


def contamination(ev: Evidence) -> Verdict:
    v = Verdict(MEASURED)
    for arm, clean in (("real_contaminated", "real"), ("replay_contaminated", "replay")):
        for metric, _ in COLLAPSE:
            v.reasons.append(
                f"{arm}: {metric} gen 0 → last {fmt(ev.change(arm, metric))}; "
                f"− {clean}'s at the last generation {fmt(ev.gap(arm, clean, metric))}"
            )
    return v


CURATED = ("curated_confidence", "curated_nearest_real", "curated_detector")
CURATION_METRICS = ("fid", "precision", "recall", "coverage", "vendi", "classes_covered")


def curation(ev: Evidence) -> Verdict:
    """Each curated arm against uncurated replace, averaged over the generations (a slower collapse shows there
    even where both arms end at the same floor); the page's table adds the last generation."""
    v = Verdict(MEASURED)
    for arm in CURATED:
        effects = []
        for metric, hib in (("fid", False), ("precision", True), ("coverage", True), ("vendi", True)):
            g = ev.gap_mean(arm, "replace", metric)
            if better(g, hib) or worse(g, hib):
                effects.append(f"{metric} {'better' if better(g, hib) else 'worse'} by {fmt(g)}")
        v.reasons.append(f"{arm}, averaged over the generations: " + ("; ".join(effects) or "no detected difference"))
    return v


RULES: dict[str, Callable[[Evidence], Verdict]] = {
    "synthetic_loop": synthetic_loop,
    "replay": replay,
    "accumulate": accumulate,
    "fresh": fresh,
    "sampling_bias": sampling_bias,
    "contamination": contamination,
    "curation": curation,
}
