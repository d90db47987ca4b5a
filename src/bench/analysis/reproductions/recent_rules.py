"""Verdict rules of the newest papers' claims (docs/reproductions_recent.md), with the helpers and wording of
`verdicts.py`: an effect is there when its 95% interval over seeds, paired by seed, excludes 0.

The π²/6 claim is decided by the Gaussian oracle (`gaussian.pi2_6_verdict`), not here.
"""

from __future__ import annotations

from bench.analysis.aggregate import estimate
from bench.analysis.reproductions.claims import VERIFIER_LABELS
from bench.analysis.reproductions.evidence import Evidence
from bench.analysis.reproductions.verdicts import (
    COLLAPSE,
    NOT,
    PARTLY,
    REPRODUCED,
    Verdict,
    better,
    better_at_last,
    falls,
    flat,
    fmt,
    rises,
)


def memorisation_dt(ev: Evidence) -> Verdict:
    """Memorisation of D_t rises under replace, D_t's entropy falls; the real control's stay flat."""
    v = Verdict(NOT)
    share, entropy = ev.change("replace", "memorized_share_dt"), ev.change("replace", "entropy_dt")
    rose, fell = rises(share), falls(entropy)
    v.reasons.append(f"replace, memorized_share_dt gen 0 → last: {fmt(share)} ({'rises' if rose else 'no rise'})")
    v.reasons.append(f"replace, entropy_dt gen 0 → last: {fmt(entropy)} ({'falls' if fell else 'no fall'})")
    control = True
    for metric, against in (("memorized_share_dt", share), ("entropy_dt", entropy)):
        d = ev.change("real", metric)
        ok = flat(d, against)
        control &= ok
        v.reasons.append(f"real control, {metric} gen 0 → last: {fmt(d)} ({'flat' if ok else 'moves'})")
    v.verdict = REPRODUCED if rose and fell and control else PARTLY if rose and control else NOT
    return v


def entropy_selection(ev: Evidence) -> Verdict:
    """Entropy selection − no selection under accumulate, FID at the last generation: lower."""
    v = Verdict(NOT)
    g = ev.gap("v1_accumulate_entropy", "v1_accumulate", "fid")
    lower = falls(g)
    v.reasons.append(f"last generation, entropy selection − none, fid: {fmt(g)} ({'lower' if lower else 'no gain'})")
    for metric in ("entropy_dt", "recall", "coverage"):
        v.reasons.append(
            f"last generation, entropy selection − none, {metric}: "
            f"{fmt(ev.gap('v1_accumulate_entropy', 'v1_accumulate', metric))}"
        )
    v.verdict = REPRODUCED if lower else NOT
    return v


def verifier_accuracy(ev: Evidence, arm: str) -> float | None:
    """The mean held-out accuracy of an arm's verifier (recorded with every curated set) over its seeds. A run folder
    is data from elsewhere: an accuracy that is not a number in [0, 1] is left out, never computed with."""
    seen = [
        a
        for run in ev.arms[arm].runs.values()
        for g in run.results["generations"]
        for s in ((g.get("curation") or {}).get("sets") or {}).values()
        if isinstance(s, dict) and isinstance(s.get("verifier"), dict)
        for a in [s["verifier"].get("accuracy")]
        if isinstance(a, (int, float)) and not isinstance(a, bool) and 0.0 <= a <= 1.0
    ]
    return sum(seen) / len(seen) if seen else None


def verifier_quality(ev: Evidence) -> Verdict:
    """Gain of each verifier over uncurated replace (FID averaged over the generations, replace − verifier), and
    whether the most accurate verifier's gain exceeds the least accurate one's, paired by seed. "Most accurate" is
    the measured held-out accuracy, not the number of labels: a verifier trained on more labels is not always the
    better one (the label count orders the arms only where an accuracy is missing)."""
    v = Verdict(NOT)
    arms = [f"verifier_{n}" for n in VERIFIER_LABELS]
    accuracy = {arm: verifier_accuracy(ev, arm) for arm in arms}
    for arm in arms:
        gain = ev.gap_mean("replace", arm, "fid")
        shown = "n/a" if accuracy[arm] is None else f"{accuracy[arm]:.3f}"
        v.reasons.append(f"{arm} (accuracy {shown}): FID gain over replace, averaged over generations {fmt(gain)}")
    measured = {arm: a for arm, a in accuracy.items() if a is not None}
    if len(measured) == len(arms):
        arms = sorted(arms, key=measured.__getitem__)  # stable: equal accuracies keep the label order
    weakest, strongest = arms[0], arms[-1]
    more = ev.gap_mean(weakest, strongest, "fid")  # FID of the weak verifier's arm − the strong one's: > 0 = helps more
    helps = better(ev.gap_mean(strongest, "replace", "fid"), False)
    ordered = rises(more)
    v.reasons.append(
        f"{weakest} − {strongest}, FID averaged over generations: {fmt(more)} "
        f"({'the better verifier helps more' if ordered else 'no detected difference'})"
    )
    v.verdict = REPRODUCED if helps and ordered else PARTLY if helps else NOT
    return v


def negative_guidance(ev: Evidence) -> Verdict:
    """With − without negative guidance: FID at generation 0 lower, and the FID change from generation 0 smaller."""
    v = Verdict(NOT)
    start = ev.gap("ldm_augment_sims", "ldm_augment", "fid", t=0)
    improves = falls(start)
    v.reasons.append(f"generation 0, guided − plain, fid: {fmt(start)} ({'lower' if improves else 'no gain'})")
    plain, guided = ev.arms["ldm_augment"], ev.arms["ldm_augment_sims"]
    seeds = sorted(plain.runs.keys() & guided.runs.keys())
    rise = {
        name: {s: _delta(a.values("fid", -1)[s], a.values("fid", 0)[s]) for s in seeds}
        for name, a in (("plain", plain), ("guided", guided))
    }
    slower = estimate(_delta(rise["guided"][s], rise["plain"][s]) for s in seeds)
    slows = falls(slower)
    v.reasons.append(
        f"FID gen 0 → last, guided − plain: {fmt(slower)} ({'slower collapse' if slows else 'not detectably slower'})"
    )
    for metric, _ in COLLAPSE[1:]:
        v.reasons.append(
            f"last generation, guided − plain, {metric}: {fmt(ev.gap('ldm_augment_sims', 'ldm_augment', metric))}"
        )
    v.verdict = REPRODUCED if improves and slows else PARTLY if improves or slows else NOT
    return v


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def weighted_replay(ev: Evidence) -> Verdict:
    """Replay with the real images at 1/φ of the loss − the same replay at 0.5 (the same weighted draws, so only the
    weight differs) at the last generation, on the collapse metrics: reproduced when better on all of them, partly
    when better on FID alone. Plain replay (shuffled, no weights) is reported beside it, not judged: against it the
    weight and the sampler change together."""
    v = Verdict(NOT)
    wins = better_at_last(ev, "replay_golden", "replay_half", "real at 1/φ − real at 0.5", v)
    v.reasons.append(f"weighted replay, fid gen 0 → last: {fmt(ev.change('replay_golden', 'fid'))}")
    for arm, name in (("replay_golden", "real at 1/φ"), ("replay_half", "real at 0.5")):
        v.reasons.append(f"last generation, {name} − plain replay, fid: {fmt(ev.gap(arm, 'replay', 'fid'))}")
    v.verdict = REPRODUCED if wins else PARTLY if falls(ev.gap("replay_golden", "replay_half", "fid")) else NOT
    return v


RECENT_RULES = {
    "memorisation_dt": memorisation_dt,
    "entropy_selection": entropy_selection,
    "verifier_quality": verifier_quality,
    "negative_guidance": negative_guidance,
    "weighted_replay": weighted_replay,
}
