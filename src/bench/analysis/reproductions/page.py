"""docs/reproductions.md as text: a summary of verdicts, then per claim its commands, table and verdict."""

from __future__ import annotations

from collections.abc import Sequence

from bench.analysis.aggregate import Estimate
from bench.analysis.reproductions.claims import ARMS, RECENT_CLAIMS, TABLE_METRICS, Claim
from bench.analysis.reproductions.evidence import ArmRuns, Evidence
from bench.analysis.reproductions.gaussian import PI2_6, LawRow, MeanErrorRow
from bench.analysis.reproductions.verdicts import CURATED, CURATION_METRICS, Verdict, fmt

RECENT_KEYS = {c.key for c in RECENT_CLAIMS}


def cell(e: Estimate, decimals: int) -> str:
    """mean ± half-width of the 95% interval (mean alone with one seed)."""
    if e.mean is None:
        return "n/a"
    hw = e.half_width
    return f"{e.mean:.{decimals}f}" if hw is None else f"{e.mean:.{decimals}f} ± {hw:.{decimals}f}"


def arm_table(arms: Sequence[ArmRuns], metrics: Sequence[tuple[str, str, int]] = TABLE_METRICS) -> list[str]:
    head = "| arm | seeds | " + " | ".join(f"{label} gen 0 → last" for _, label, _ in metrics) + " |"
    lines = [head, "|" + "---|" * (2 + len(metrics))]
    for a in arms:
        if not a.runs:
            lines.append(f"| {a.arm.label} | 0 | " + " | ".join("not run" for _ in metrics) + " |")
            continue
        cells = [f"{cell(a.at(m, 0), d)} → {cell(a.at(m, -1), d)}" for m, _, d in metrics]
        lines.append(f"| {a.arm.label} | {len(a.runs)} | " + " | ".join(cells) + " |")
    return lines


def gap_table(evidence: Evidence, arms: Sequence[str], baseline: str, metrics: Sequence[str]) -> list[str]:
    """arm − baseline per metric, paired by seed: at the last generation and averaged over the generations."""
    lines = [
        f"Difference from `{baseline}`, paired by seed: at the last generation / averaged over the generations.",
        "",
        "| arm | " + " | ".join(metrics) + " |",
        "|---|" + "---|" * len(metrics),
    ]
    for arm in arms:
        cells = [f"{fmt(evidence.gap(arm, baseline, m))} / {fmt(evidence.gap_mean(arm, baseline, m))}" for m in metrics]
        lines.append(f"| {evidence.arms[arm].arm.label} | " + " | ".join(cells) + " |")
    return lines


def curation_table(a: ArmRuns) -> list[str]:
    """Per generation: what curation kept (the reference classifier's class shares before and after)."""
    lines = []
    for seed, run in sorted(a.runs.items())[:1]:
        lines.append(f"What `{a.arm.key}` kept, seed {seed} (class shares of the candidates → of the kept images):")
        lines.append("")
        for g in run.results["generations"]:
            for name, s in ((g.get("curation") or {}).get("sets") or {}).items():
                before = s.get("class_shares_candidates")
                after = s.get("class_shares_kept")
                shares = ""
                if before and after:
                    pairs = zip(before, after, strict=True)
                    shares = "; class shares " + ", ".join(f"{c}: {b:.2f}→{k:.2f}" for c, (b, k) in enumerate(pairs))
                lines.append(
                    f"- generation {g['generation']} kept {s['kept']} of {s['candidates']} images of {name} "
                    f"(share {s['kept_share']:.2f}){shares}"
                )
    return lines


def law_table(rows: Sequence[LawRow], seeds: int) -> list[str]:
    lines = [
        f"Total variance tr Σ_t of the fit, mean over {seeds} seeds with its 95% interval (Bonferroni over "
        "generations); D = 4 pixels, n = 8 images a generation, σ = 20 around 128 (no clipping):",
        "",
        "| generation | theory, replace | replace | accumulate |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.generation} | {r.expected:.1f} | {r.replace[0]:.1f} [{r.replace[1]:.1f}, {r.replace[2]:.1f}] | "
            f"{r.accumulate[0]:.1f} [{r.accumulate[1]:.1f}, {r.accumulate[2]:.1f}] |"
        )
    return lines


def mean_error_table(rows: Sequence[MeanErrorRow], seeds: int) -> list[str]:
    def c(x: tuple[float, float, float]) -> str:
        return f"{x[0]:.1f} [{x[1]:.1f}, {x[2]:.1f}]"

    lines = [
        f"Squared error ‖μ_t − μ‖² of the fitted mean, mean over {seeds} seeds with its 95% interval (Bonferroni over "
        "generations); the same oracle as the `gaussian` claim (D = 4 pixels, n = 8 images a generation, σ = 20 "
        f"around 128). The margins are the loop's error − π²/6 ({PI2_6:.3f}) x the same seed's real error, paired:",
        "",
        "| generation | real | accumulate | theory, accumulate | accumulate − π²/6 x real | replace | "
        "replace − π²/6 x real |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.generation} | {c(r.real)} | {c(r.accumulate)} | {r.theory_accumulate:.1f} | "
            f"{c(r.accumulate_margin)} | {c(r.replace)} | {c(r.replace_margin)} |"
        )
    return lines


def render(
    claims: Sequence[Claim],
    evidence: Evidence,
    verdicts: dict[str, Verdict],
    *,
    seeds: Sequence[int],
    extra: Sequence[str],
    laws: tuple[list[LawRow], int] | None,
    machine: str,
    mean_errors: tuple[list[MeanErrorRow], int] | None = None,
    setups: Sequence[str],
    command: str,
) -> str:
    seed_list = list(seeds)
    out = [
        "# Reproductions",
        "",
        f"Generated by `{command}` from the run folders; do not edit by hand. Every number is the mean over "
        f"seeds {', '.join(str(s) for s in seed_list)} with the half-width of its 95% Student-t interval "
        "(`mean ± h`); a change or a difference between loops is paired by seed (generation 0 of two loops "
        "with one seed and the same data is the same model). The verdict rules are in "
        "`src/bench/analysis/reproductions/verdicts.py`"
        + (" (the newest papers' in `recent_rules.py` beside it)" if any(c.key in RECENT_KEYS for c in claims) else "")
        + " and are written out under each verdict.",
        "",
        "The runs, as their results.json files say:",
        "",
        *[f"- {s}" for s in setups or ["none yet"]],
        "",
        f"Machine: {machine}.",
    ]
    if extra:
        out += ["", f"Extra overrides on every run: `{' '.join(extra)}`."]
    out += ["", "| claim | source | verdict |", "|---|---|---|"]
    for c in claims:
        out.append(f"| [{c.title}](#{c.key.replace('_', '-')}) | {c.source} | **{verdicts[c.key].verdict}** |")
    for c in claims:
        v = verdicts[c.key]
        out += ["", f'<a id="{c.key.replace("_", "-")}"></a>', "", f"## {c.title}", "", f"*{c.source}.* {c.statement}"]
        if c.arms:
            out += ["", "Commands (this CPU):", "", "```bash"]
            out += [ARMS[k].command(seed_list) + (f" {' '.join(extra)}" if extra else "") for k in c.arms]
            out += ["```"]
        else:
            out += [
                "",
                "No run folders: the oracle simulates its seeds through the benchmark's loop when the page is made.",
            ]
        gpu = f"On a GPU, with the diffusion model (not run for this page): `{c.gpu}`" if c.gpu else "No GPU needed."
        out += ["", gpu, ""]
        if c.key == "gaussian" and laws is not None:
            out += [*law_table(*laws), ""]
            out.append(
                "The same model on MNIST pixels, through the ordinary run folders. With n = 4,000 the law alone "
                "would take 0.025% of the variance a generation; clipping every sample to [0, 255] and rounding it "
                "change the fit far more, so this table is shown, not tested:"
            )
            out += [""]
        if c.key == "pi2_6" and mean_errors is not None:
            out += [*mean_error_table(*mean_errors), ""]
        if c.arms:
            out += arm_table([evidence.arms[k] for k in c.arms], c.table or TABLE_METRICS)
        if c.key == "curation" and not evidence.missing(c.arms):
            out += ["", *gap_table(evidence, CURATED, "replace", CURATION_METRICS)]
            for k in c.arms[1:]:
                if evidence.arms[k].runs:
                    out += ["", *curation_table(evidence.arms[k])]
        out += ["", f"**Verdict: {v.verdict}.**", ""]
        out += [f"- {r}" for r in v.reasons]
    return "\n".join(out) + "\n"
