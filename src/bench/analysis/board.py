"""The published board: every model in conf/model/ under every mitigation, on one protocol, from reference runs.

An entry is a (model, mitigation) pair. Its runs are `python -m bench protocol=<protocol> <model overrides>
<mitigation overrides> seed=S` for each of the protocol's seeds, found in run folders by their resolved config, as
the reproductions page finds its arms (bench.analysis.reproductions.evidence): a run is on the board because of
what it computed, not because of where it lies.

The headline of an entry is HEADLINE, `fid.auc_ratio`: the mean FID over the protocol's generations (trapezoid
rule) as a multiple of generation 0's, 1 = no change, with the 95% Student-t interval over the seeds. It measures
the damage of the loop, not the model's starting quality, which the `FID gen 0` column shows beside it.

Ranking follows the health gate (bench.engine.health), which every run under a protocol applies with the
protocol's limit:
- the entries of models whose generation 0 passes the gate in every seed are ranked together, across models;
- a model whose generation 0 fails it has its mitigations ranked among themselves only, in a table of its own:
  its numbers mix the model's own error with collapse, so they compare loops at that model's settings and are
  never ranked beside a healthy model's (the gate's own advice on the console);
- an entry with fewer finished runs than the protocol has seeds is "not run", listed with the command that runs
  it; no number from elsewhere stands in for it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.analysis.aggregate import Group, Run, aggregate_group
from bench.analysis.leaderboard import generation_zero_problem, not_ranked_reason, rank_groups
from bench.analysis.reproductions.claims import Arm
from bench.analysis.reproductions.evidence import ArmRuns, arm_keys, collect
from bench.config import CONF_DIR
from bench.errors import BenchError

PROTOCOL = "mnist-v1"
HEADLINE = "fid.auc_ratio"


@dataclass(frozen=True)
class Model:
    key: str
    overrides: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Mitigation:
    key: str
    overrides: tuple[str, ...]
    label: str
    # the model keys it applies to (None: every model); negative guidance needs a diffusion or flow model
    models: tuple[str, ...] | None = None


# every file of conf/model/ has its row (a test holds this list to the folder), with the preset a user runs
MODELS = [
    Model("vae", ("model=vae",), "VAE (conf/model/vae.yaml)"),
    Model("gaussian", ("model=gaussian",), "Gaussian, full covariance (conf/model/gaussian.yaml)"),
    Model(
        "gaussian_mixture",
        ("model=gaussian", "model.components=10"),
        "Gaussian mixture, 10 components by EM (model=gaussian model.components=10)",
    ),
    Model("ddpm", ("model=ddpm", "experiment=ddpm_cpu"), "DDPM, CPU preset (model=ddpm experiment=ddpm_cpu)"),
    Model("flow", ("model=flow",), "rectified flow in pixel space (conf/model/flow.yaml)"),
    Model("ldm", ("model=ldm",), "latent rectified flow, frozen autoencoder (conf/model/ldm.yaml)"),
]

# the loop kinds and their settings (issue: replace, replay at λ, accumulate with and without budget, fresh,
# curation by each method, contamination as a stress case); `loop=real` is the control every mitigation aims at
MITIGATIONS = [
    Mitigation("replace", ("loop=replace",), "replace (no mitigation)"),
    Mitigation("real", ("loop=real",), "real data only (control)"),
    Mitigation("replay", ("loop=replay",), "replay λ = 0.5"),
    Mitigation("accumulate", ("loop=accumulate",), "accumulate"),
    Mitigation("accumulate_budget", ("loop=accumulate", "loop.budget=4000"), "accumulate, budget 4,000"),
    Mitigation("fresh", ("loop=fresh",), "fresh real data"),
    Mitigation("curated_confidence", ("loop=replace", "loop.curation=confidence"), "replace, curated by confidence"),
    Mitigation(
        "curated_nearest_real", ("loop=replace", "loop.curation=nearest_real"), "replace, curated by nearest real"
    ),
    Mitigation("curated_detector", ("loop=replace", "loop.curation=detector"), "replace, curated by detector"),
    Mitigation(
        "contaminated_replay",
        ("loop=replay", "data.contamination=0.33"),
        "replay λ = 0.5, real pool 33% synthetic (stress)",
    ),
    # the newest papers' mitigations (README: weighted real data, curation, sampling settings)
    Mitigation(
        "curated_entropy", ("loop=replace", "loop.curation=entropy"), "replace, curated by entropy (Shi et al.)"
    ),
    Mitigation(
        "curated_verifier",
        ("loop=replace", "loop.curation=verifier"),
        "replace, curated by a verifier of 1,000 labels (Feng et al.)",
    ),
    Mitigation(
        "weighted_replay",
        ("loop=replay", "loop.real_weight=0.6180339887498949"),
        "replay λ = 0.5, real images 1/φ of the loss (He et al.)",
    ),
    Mitigation(
        "negative_guidance",
        ("loop=replace", "sampling.negative_guidance=1.0"),
        "replace, negative guidance w = 1 from a self-consumed twin (SIMS)",
        models=("ddpm", "flow", "ldm"),
    ),
]


@dataclass(frozen=True)
class Entry:
    model: Model
    mitigation: Mitigation
    protocol: str

    @property
    def key(self) -> str:
        return f"{self.model.key}/{self.mitigation.key}"

    @property
    def arm(self) -> Arm:
        overrides = (f"protocol={self.protocol}", *self.model.overrides, *self.mitigation.overrides)
        return Arm(self.key, overrides, self.mitigation.label)

    def command(self, seeds: Sequence[int], extra: Sequence[str] = ()) -> str:
        return f"python -m bench -m {' '.join([*self.arm.overrides, *extra])} seed={','.join(map(str, seeds))}"


@dataclass
class Section:
    """One table: the entries ranked together (a model's own mitigations, or every healthy model's)."""

    title: str
    groups: list[Group]  # in rank order
    ranks: dict[str, int | None]
    entries: dict[str, Entry]  # group id -> its entry
    note: str = ""


@dataclass
class Board:
    protocol: str
    seeds: list[int]
    across: Section  # the healthy models' entries, ranked together
    models: list[Section]  # one per model with finished entries, its mitigations ranked among themselves
    not_run: list[tuple[Entry, list[int]]] = field(default_factory=list)  # (entry, the seeds it has)
    runs: list[Run] = field(default_factory=list)


def gate_note(groups: Sequence[Group]) -> str:
    """Why a model's entries are ranked among themselves only: its generation 0 against the health gate."""
    runs = {(r.seed, r.path): r for g in groups for r in g.runs}.values()
    failed = sorted({r.seed for r in runs if generation_zero_problem(r.results) is not None})
    fids = [f for g in groups if (f := g.scores.get("fid.gen0")) is not None and f.mean is not None]
    run = next(iter(runs))
    limit = run.results["config"]["health"]["max_fid_over_floor"]
    floor = run.results["floor"].get("fid")
    fid = f"FID {fids[0].mean:.0f}" if fids else "FID unknown"
    bound = (
        f"{limit} x the floor's {floor:.2f} = {limit * floor:.0f}"
        if isinstance(floor, float)
        else f"{limit} x the floor"
    )
    return (
        f"Generation 0 fails the health gate in seeds {', '.join(map(str, failed))} ({fid} at generation 0, mean "
        f"over seeds; the limit is {bound}, with every class covered). Its mitigations are ranked among themselves "
        "only: their numbers mix the model's own error with collapse, so they compare loops at this model's "
        "settings and never stand beside a healthy model's."
    )


def model_names(conf_dir: Path = CONF_DIR) -> list[str]:
    """The model names conf/model/ offers (the files' stems)."""
    return sorted(p.stem for p in (conf_dir / "model").glob("*.yaml"))


def entries(
    protocol: str = PROTOCOL, models: Sequence[Model] = MODELS, mitigations: Sequence[Mitigation] = MITIGATIONS
) -> list[Entry]:
    return [Entry(m, g, protocol) for m in models for g in mitigations if g.models is None or m.key in g.models]


def protocol_seeds(protocol: str) -> list[int]:
    from bench.protocol import reference  # composed once per protocol (cached)

    return [int(s) for s in reference(protocol)["protocol.seeds"]]


def pick(names: str | None, known: Sequence[Model] | Sequence[Mitigation], what: str) -> list:
    """The models or mitigations a comma-separated list names, in the board's order; all of them for None."""
    if names is None:
        return list(known)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    by_key = {k.key: k for k in known}
    unknown = [n for n in chosen if n not in by_key]
    if unknown or not chosen:
        raise BenchError(f"{what}={names!r}: unknown {unknown or 'empty'}; allowed: {', '.join(by_key)}")
    return [k for k in known if k.key in chosen]


def find(
    outputs: Sequence[str | Path], board_entries: Sequence[Entry], seeds: Sequence[int], extra: Sequence[str] = ()
):
    """{entry key: ArmRuns}: the finished runs of each entry under `outputs` with the protocol's seeds."""
    arms = [e.arm for e in board_entries]
    return collect([p for p in outputs if Path(p).exists()], arms, seeds, arm_keys(arms, extra))


def build(found: dict[str, ArmRuns], board_entries: Sequence[Entry], seeds: Sequence[int], protocol: str) -> Board:
    """Rank what `find` found: an entry with every seed is on the board, the others are not run."""
    complete: dict[str, tuple[Entry, Group]] = {}
    not_run: list[tuple[Entry, list[int]]] = []
    runs: list[Run] = []
    for e in board_entries:
        got = found[e.key]
        if len(got.runs) < len(seeds):
            not_run.append((e, got.seeds))
            continue
        group = aggregate_group(list(got.runs.values()))
        group.label = e.mitigation.label
        complete[group.id] = (e, group)
        runs += list(got.runs.values())
    models: list[Section] = []
    healthy: list[Group] = []
    for model in dict.fromkeys(e.model for e in board_entries):
        mine = [(e, g) for e, g in complete.values() if e.model == model]
        if not mine:
            continue
        groups = [g for _, g in mine]
        if all(not_ranked_reason(g) is None for g in groups):
            healthy += groups
            note = "Generation 0 passes the health gate in every seed: its entries are ranked across models too."
        else:
            note = gate_note(groups)
        ranks = rank_groups(groups, HEADLINE)
        models.append(Section(model.label, groups, ranks, {g.id: e for e, g in mine}, note))
    # the same groups under labels that name their model too (copies: the model tables keep the short ones)
    healthy = [copy.copy(g) for g in healthy]
    for g in healthy:
        g.label = f"{complete[g.id][0].model.key} · {g.label}"
    across_ranks = rank_groups(healthy, HEADLINE)
    across = Section(
        "Across models: every entry whose model's generation 0 passes the health gate",
        healthy,
        across_ranks,
        {g.id: complete[g.id][0] for g in healthy},
        ""
        if healthy
        else "None of the models with finished entries passes the health gate at generation 0; "
        "their tables follow, each ranked on its own. The models that pass it need the runs listed under Not run.",
    )
    return Board(protocol, list(seeds), across, models, not_run, runs)
