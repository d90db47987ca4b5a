"""A claim's verdict by its rule: the rules of `verdicts.py` and the newest papers' of `recent_rules.py` (which builds
on the former's helpers, so the lookup of both lives here, above them)."""

from __future__ import annotations

from bench.analysis.reproductions.claims import Claim
from bench.analysis.reproductions.evidence import Evidence
from bench.analysis.reproductions.recent_rules import RECENT_RULES
from bench.analysis.reproductions.verdicts import RULES, Verdict

ALL_RULES = {**RULES, **RECENT_RULES}


def judge(claim: Claim, ev: Evidence) -> Verdict:
    """The claim's verdict by its rule: its own, or (`claim.same_rule_as`) another claim's, on its own arms."""
    if claim.same_rule_as:
        return ALL_RULES[claim.same_rule_as](ev.as_roles(dict(claim.arm_roles)))
    return ALL_RULES[claim.key](ev)
