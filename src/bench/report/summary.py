"""Summary scores of one run: a few numbers per metric that say how far, and how soon, the run collapsed.

`summary_scores(results)` is a pure function of a results.json dict (its `generations` and the real class
shares of its `evaluation`); the run loop stores it as results["summary"], and the leaderboard recomputes it
from the generations of every file it reads, so a summary written by another version is never trusted.

Definitions (also in SUMMARY_DEFINITIONS, which the README quotes). T is the number of finished generations,
v_t a metric's value at generation t = 0 .. T-1:

- `<metric>.gen0`: v_0. `<metric>.last`: v_{T-1}.
- `<metric>.ratio`: v_{T-1} / v_0 (null when v_0 is 0). `<metric>.difference`: v_{T-1} - v_0.
- `<metric>.auc`: the area under the curve over the generation index by the trapezoid rule, divided by the
  number of intervals T-1: sum_{t<T-1} (v_t + v_{t+1}) / 2 / (T-1), i.e. the mean level of the curve
  (generation 0 and the last one count half). With T = 1 it is v_0.
- `<metric>.auc_ratio`: auc / v_0 (null when v_0 is 0): the mean level of the curve as a multiple of where the
  run started, so a model's own generation-0 quality does not enter it. `fid.auc_ratio` is the published board's
  headline (bench.analysis.board.HEADLINE): 1 = no change over the run, 2 = on average twice generation 0's FID.
  Any null v_t (a non-finite value on disk) makes the scores that need it null.
- `class_loss.first_generation`: the first generation t at which some class c falls below `class_threshold`
  times its real share p_c (default 0.5: below p_c / 2), from the generated class shares of the reference
  classifier; null if no class does within the run. A weak generation-0 model already misses classes, so the
  collapse event is `class_loss.first_loss_generation`: the first generation t >= 1 at which a class that
  generation 0 had (share at or above the threshold there) falls below it; null if none does.
  `class_loss.n_below`: per generation, how many classes are below; `class_loss.first_generation_per_class`:
  {class: first generation below} for the classes that ever are.
- `minority.first_generation`: for data sets with a minority mode (metrics carry `minority_share`), the first
  generation t >= 1 at which minority_share < `minority_threshold` (default 0.5) times its generation-0 value;
  null if never. Absent when the metrics carry no minority_share.

Metrics summarised: every numeric per-generation key that METRIC_INFO (or the file's own metric_info)
describes, LEAD_METRICS first, without sample sizes (n_*, c2st_n_test) and bootstrap interval ends (*_ci_low,
*_ci_high).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.metric_info import LEAD_METRICS, METRIC_INFO

SUMMARY_VERSION = 1
DEFAULT_CLASS_THRESHOLD = 0.5
DEFAULT_MINORITY_THRESHOLD = 0.5

SUMMARY_DEFINITIONS: dict[str, str] = {
    "gen0": "value at generation 0",
    "last": "value at the last finished generation T-1",
    "ratio": "last / gen0 (null when gen0 is 0)",
    "difference": "last - gen0",
    "auc": (
        "area under the curve over the generation index (trapezoid rule) divided by the number of intervals T-1: "
        "the mean level of the curve, generations 0 and T-1 counting half; v_0 when T = 1"
    ),
    "auc_ratio": (
        "auc / gen0 (null when gen0 is 0): the curve's mean level as a multiple of generation 0, 1 = no change; "
        "fid.auc_ratio is the published board's headline"
    ),
    "class_loss.first_generation": (
        "first generation at which some class's generated share falls below class_threshold (default 0.5) times "
        "its real share; null if none does within the run"
    ),
    "class_loss.first_loss_generation": (
        "first generation t >= 1 at which a class that generation 0 had (share at or above the threshold) falls "
        "below it: the collapse event; null if none does within the run"
    ),
    "class_loss.n_below": "number of classes below that threshold, per generation",
    "minority.first_generation": (
        "first generation t >= 1 at which minority_share falls below minority_threshold (default 0.5) times its "
        "generation-0 value; null if never; only for data sets whose metrics carry minority_share"
    ),
}

# descriptive keys that are numbers but not scores: sample sizes
_NOT_SCORES = {"n_gen", "n_real", "n_train", "c2st_n_test"}


def metric_registry() -> dict[str, dict[str, Any]]:
    """METRIC_INFO (direction, definition, citation per metric key): bench.metric_info, which imports nothing."""
    return METRIC_INFO


def number(x: Any) -> float | None:
    """A finite number as float; None for null, non-finite, booleans and anything else."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def _is_number_or_null(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def summary_metric_keys(
    generations: Sequence[Mapping[str, Any]], known: Iterable[str], *, extra: Iterable[str] = ()
) -> list[str]:
    """The metrics to summarise: keys in `known` (or `extra`) whose values are numbers (or null) in every generation.

    LEAD_METRICS first, then the rest in the order `known` lists them.
    """
    known = list(dict.fromkeys([*known, *extra]))
    if not generations:
        return []
    candidates = [k for k in known if k not in _NOT_SCORES and not k.endswith(("_ci_low", "_ci_high"))]
    keys = [
        k
        for k in candidates
        if all(k in g.get("metrics", {}) and _is_number_or_null(g["metrics"][k]) for g in generations)
        and any(number(g["metrics"][k]) is not None for g in generations)
    ]
    return [k for k in LEAD_METRICS if k in keys] + [k for k in keys if k not in LEAD_METRICS]


def curve_scores(values: Sequence[float | None]) -> dict[str, float | None]:
    """gen0, last, ratio, difference, auc (mean level, trapezoid) and auc_ratio (auc / gen0) of one metric's curve
    over generations."""
    if not values:
        return {"gen0": None, "last": None, "ratio": None, "difference": None, "auc": None, "auc_ratio": None}
    v0, vl = values[0], values[-1]
    ratio = vl / v0 if v0 is not None and vl is not None and v0 != 0 else None
    difference = vl - v0 if v0 is not None and vl is not None else None
    if any(v is None for v in values):
        auc = None
    elif len(values) == 1:
        auc = v0
    else:
        vs = [float(v) for v in values if v is not None]
        auc = sum((a + b) / 2 for a, b in itertools.pairwise(vs)) / (len(vs) - 1)
    auc_ratio = auc / v0 if auc is not None and v0 is not None and v0 != 0 else None
    return {"gen0": v0, "last": vl, "ratio": ratio, "difference": difference, "auc": auc, "auc_ratio": auc_ratio}


def class_shares_of(metrics: Mapping[str, Any], n_classes: int) -> list[float] | None:
    """Generated class shares as a dense list: a list as stored, or a sparse {class: share} dict (absent = 0)."""
    shares = metrics.get("class_shares")
    if isinstance(shares, list):
        out = [number(s) for s in shares]
        if len(out) != n_classes or any(s is None for s in out):
            return None
        return [float(s) for s in out if s is not None]
    if isinstance(shares, dict):
        dense = [0.0] * n_classes
        for k, v in shares.items():
            c, s = int(k), number(v)
            if not 0 <= c < n_classes or s is None:
                return None
            dense[c] = s
        return dense
    return None


def class_loss(
    generations: Sequence[Mapping[str, Any]], real_shares: Sequence[float], *, threshold: float
) -> dict[str, Any] | None:
    """First generation at which a class falls below `threshold` x its real share; None without class shares.

    Linear in classes x generations (1000 classes are fine); only the classes that ever fall below are listed.
    """
    n = len(real_shares)
    if n == 0:
        return None
    limits = [threshold * p for p in real_shares]
    first: dict[str, int] = {}
    n_below: list[int | None] = []
    below_at_gen0: set[int] | None = None
    lost: int | None = None
    for g in generations:
        shares = class_shares_of(g.get("metrics", {}), n)
        if shares is None:
            n_below.append(None)
            continue
        below = [c for c in range(n) if shares[c] < limits[c]]
        n_below.append(len(below))
        t = int(g["generation"])
        for c in below:
            first.setdefault(str(c), t)
        if t == 0:
            below_at_gen0 = set(below)
        elif lost is None and below_at_gen0 is not None and any(c not in below_at_gen0 for c in below):
            lost = t
    if all(x is None for x in n_below):
        return None
    return {
        "threshold": threshold,
        "first_generation": min(first.values()) if first else None,
        "first_loss_generation": lost,
        "n_below": n_below,
        "first_generation_per_class": first,
    }


def minority_loss(generations: Sequence[Mapping[str, Any]], *, threshold: float) -> dict[str, Any] | None:
    """First generation t >= 1 at which minority_share < threshold x its generation-0 value; None without the key."""
    if not generations or not any("minority_share" in g.get("metrics", {}) for g in generations):
        return None
    values = [number(g.get("metrics", {}).get("minority_share")) for g in generations]
    v0 = values[0]
    if v0 is None:
        return {"gen0": None, "threshold": None, "first_generation": None}
    limit = threshold * v0
    first = next(
        (int(g["generation"]) for g, v in zip(generations[1:], values[1:], strict=True) if v is not None and v < limit),
        None,
    )
    return {"gen0": v0, "threshold": limit, "first_generation": first}


def summary_scores(
    results: Mapping[str, Any],
    *,
    class_threshold: float = DEFAULT_CLASS_THRESHOLD,
    minority_threshold: float = DEFAULT_MINORITY_THRESHOLD,
    known_metrics: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Summary scores of a results.json dict (see the module docstring for the definitions).

    `known_metrics`: the metric keys that may be summarised (default: the package's METRIC_INFO plus the file's
    own metric_info). Returns {"version", "n_generations", "metrics": {key: {gen0, last, ratio, difference, auc}},
    "class_loss": {...} or None, and "minority": {...} when the metrics carry minority_share}.
    """
    assert 0 < class_threshold <= 1, f"class_threshold={class_threshold} must be in (0, 1]"
    assert 0 < minority_threshold <= 1, f"minority_threshold={minority_threshold} must be in (0, 1]"
    generations = sorted(results.get("generations", []), key=lambda g: g["generation"])
    if known_metrics is None:
        known_metrics = [*metric_registry(), *results.get("metric_info", {})]
    keys = summary_metric_keys(generations, known_metrics, extra=["minority_share"])
    metrics = {k: curve_scores([number(g["metrics"][k]) for g in generations]) for k in keys}
    real_shares = [float(p) for p in results.get("evaluation", {}).get("real_class_shares") or []]
    out: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "n_generations": len(generations),
        "metrics": metrics,
        "class_loss": class_loss(generations, real_shares, threshold=class_threshold),
    }
    minority = minority_loss(generations, threshold=minority_threshold)
    if minority is not None:
        out["minority"] = minority
    return out
