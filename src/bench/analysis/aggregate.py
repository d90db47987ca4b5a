"""Many results.json files -> validated runs -> groups of seeds -> means and 95% intervals, per track.

Reading. A results.json is read as strict JSON only (bench.io.strict_json.read_strict_json: nothing is executed
or unpickled): NaN / Infinity literals, floats that overflow a double (1e999), integers beyond 2^63, duplicate
keys and non-UTF-8 text are refused. It is then checked against the published schema
(src/bench/schema/results.schema.json, with the `jsonschema` package: Draft 2020-12, format checks on) and
for consistency (generations numbered 0.., as many as the config says for a finished run, sample sizes and
class counts that agree with `evaluation`, metric directions that agree with METRIC_INFO). A rejected file
raises InvalidResults, one line naming the file and the field: `other/results.json: generations[2].metrics.fid
missing`. Runs that are not finished (status running / interrupted) are skipped with a warning, not refused.

Tracks. Runs are only compared within a track: the same data set (name and checksum), reference feature
extractor (name and sha256), number of generated images scored (evaluation.n_generated) and number of
generations (config.loop.generations).

Groups. Runs of one track whose resolved configs are equal except for `seed` and the keys that do not change
results (NOT_RESULT_KEYS, anything under `hydra`) are seeds of one group. Per group, every metric at every
generation and every summary score (bench.report.summary, recomputed from the generations) gets the mean over
seeds and a 95% Student-t interval, mean ± t_{0.975, n-1} · s / sqrt(n) with s the sample standard deviation;
with n = 1 the interval is undefined (null). Null values (non-finite on disk) are left out, and n counts
the values used. Event generations (`class_loss.first_generation`, `class_loss.first_loss_generation`,
`minority.first_generation`) of a run in which the event did not happen count as T, the number of
generations (censored at the end of the run). A group of two or more seeds whose generation-0 FIDs have a 95%
half-width above `health.max_gen0_fid_spread` (from the runs' configs; 0.1 where absent) of their mean is
`gen0_unstable` (relative_spread): its generation 0 is training noise, which the leaderboard flags.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match

from bench import protocol
from bench.analysis import entries
from bench.config import NOT_RESULT_KEYS as RUN_NOT_RESULT_KEYS
from bench.config import as_before, flatten
from bench.engine.health import DEFAULT_MAX_GEN0_FID_SPREAD
from bench.errors import BenchError
from bench.io.strict_json import json_path, parse_strict_json, read_strict_json
from bench.report.summary import metric_registry, number, summary_scores

# keys (and the keys under them) that do not change what a run computes: the one list that also names run folders
# and checks resumes; `seed` is what tells the runs of a group apart
NOT_RESULT_KEYS = frozenset(RUN_NOT_RESULT_KEYS)
LEVEL = 0.95
# summary scores that are a generation at which something happened; "never" counts as T (censored)
EVENT_SCORES = ("class_loss.first_generation", "class_loss.first_loss_generation", "minority.first_generation")


class InvalidResults(BenchError):
    """A results.json that cannot be used: `<file>: <field> <problem>`, one line."""


# ---------------------------------------------------------------- schema


@functools.cache
def results_schema() -> dict[str, Any]:
    """The published JSON Schema of results.json (bench/schema/results.schema.json)."""
    text = resources.files("bench").joinpath("schema", "results.schema.json").read_text()
    schema: dict[str, Any] = parse_strict_json(text)
    return schema


def _date_time(value: object) -> bool:
    """RFC 3339 date-time (`2026-12-05T08:40:47+00:00`): jsonschema checks it only with an extra package."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@functools.cache
def _validator() -> Draft202012Validator:
    schema = results_schema()
    Draft202012Validator.check_schema(schema)
    formats = FormatChecker(Draft202012Validator.FORMAT_CHECKER.checkers)
    formats.checks("date-time", raises=ValueError)(_date_time)
    return Draft202012Validator(schema, format_checker=formats)


def _describe(x: Any) -> str:
    text = json.dumps(x)
    return text if len(text) <= 40 else text[:37] + "..."


_ARTICLE = {"object": "an object", "array": "an array", "integer": "an integer", "null": "null"}


def _message(error: ValidationError) -> str:
    """One line for a jsonschema error: the JSON path of the bad value, then what is wrong with it."""
    where = json_path(error.absolute_path)
    kind, bound, value = error.validator, error.validator_value, error.instance
    bound = cast(Any, bound)  # the keyword's value in the schema (jsonschema types it Any | Unset)
    value = cast(Any, value)
    if kind == "required":
        missing = next((k for k in bound if isinstance(value, dict) and k not in value), "?")
        return f"{json_path([*error.absolute_path, missing])} missing"
    if kind == "type":
        types = [bound] if isinstance(bound, str) else list(bound)
        return f"{where} is {_describe(value)}, expected {' or '.join(_ARTICLE.get(t, f'a {t}') for t in types)}"
    if kind == "enum":
        return f"{where} is {_describe(value)}, expected one of {', '.join(map(str, bound))}"
    if kind == "minimum":
        return f"{where} is {_describe(value)}, below the minimum {bound}"
    if kind == "maximum":
        return f"{where} is {_describe(value)}, above the maximum {bound}"
    if kind == "minLength" and bound == 1:
        return f"{where} is empty"
    if kind == "maxLength":
        return f"{where} is {len(value)} characters long, at most {bound} allowed"
    if kind == "pattern":
        return f"{where} is {_describe(value)}, which does not match {bound}"
    if kind == "minItems":
        return f"{where} has {len(value)} items, at least {bound} needed"
    if kind == "format":
        return f"{where} is {_describe(value)}, not a {bound}"
    if kind == "additionalProperties":
        return f"{where} has a key that is not allowed here"
    return f"{where}: {error.message.splitlines()[0][:200]}"


def validate(doc: Any) -> None:
    """Raise ValueError('<field> <problem>') where `doc` breaks the published schema (jsonschema, Draft 2020-12,
    format checks on). Fields are named as `generations[2].metrics.fid`; of several errors the one `jsonschema`
    ranks most relevant (best_match) is reported."""
    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        raise ValueError(_message(error))


# ---------------------------------------------------------------- consistency


def check_consistency(doc: Mapping[str, Any]) -> None:
    """Raise ValueError('<field> <problem>') where a schema-valid results dict contradicts itself or the registry."""
    config, evaluation, gens = doc["config"], doc["evaluation"], doc["generations"]
    loop = config["loop"]
    for i, g in enumerate(gens):
        if g["generation"] != i:
            raise ValueError(f"generations[{i}].generation is {g['generation']}, expected {i} (numbered from 0)")
    if len(gens) > loop["generations"] or (doc["status"] == "finished" and len(gens) != loop["generations"]):
        raise ValueError(
            f"generations has {len(gens)} entries, config.loop.generations is {loop['generations']} "
            f"(status {doc['status']})"
        )
    if loop["name"] == "replay" and "real_fraction" not in loop:
        raise ValueError("config.loop.real_fraction missing (loop replay)")
    data_name = config.get("data", {}).get("name") if isinstance(config.get("data"), dict) else None
    if data_name is not None and data_name != doc["dataset"]["name"]:
        raise ValueError(f"dataset.name is {doc['dataset']['name']!r}, config.data.name is {data_name!r}")
    n_samples = config.get("metrics", {}).get("n_samples") if isinstance(config.get("metrics"), dict) else None
    if n_samples is not None and n_samples != evaluation["n_generated"]:
        raise ValueError(
            f"evaluation.n_generated is {evaluation['n_generated']}, config.metrics.n_samples is {_describe(n_samples)}"
        )
    n_classes = len(evaluation.get("real_class_shares") or [])
    for i, g in enumerate(gens):
        m = g["metrics"]
        for key, expected in (("n_gen", "n_generated"), ("n_real", "n_reference")):
            if key in m and m[key] != evaluation[expected]:
                raise ValueError(
                    f"generations[{i}].metrics.{key} is {m[key]}, evaluation.{expected} is {evaluation[expected]}"
                )
        shares = m.get("class_shares")
        if shares is not None:
            indices = range(len(shares)) if isinstance(shares, list) else [int(k) for k in shares if k.isdigit()]
            if isinstance(shares, dict) and len(indices) != len(shares):
                raise ValueError(f"generations[{i}].metrics.class_shares has a key that is not a class index")
            size = len(shares) if isinstance(shares, list) else max(indices, default=-1) + 1
            if n_classes == 0 or size > n_classes or (isinstance(shares, list) and size != n_classes):
                raise ValueError(
                    f"generations[{i}].metrics.class_shares has {size} classes, "
                    f"evaluation.real_class_shares {n_classes}"
                )
    registry = metric_registry()
    for key, info in doc.get("metric_info", {}).items():
        if key in registry and info["higher_is_better"] != registry[key]["higher_is_better"]:
            raise ValueError(
                f"metric_info.{key}.higher_is_better is {json.dumps(info['higher_is_better'])}, "
                f"METRIC_INFO says {json.dumps(registry[key]['higher_is_better'])}"
            )


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check one results.json; InvalidResults('<path>: <field> <problem>') if it cannot be used."""
    return checked_results(_read(Path(path)), str(path))


def _read(path: Path) -> Any:
    try:
        return read_strict_json(path)
    except BenchError as e:
        raise InvalidResults(str(e)) from None


def checked_results(doc: Any, name: str) -> dict[str, Any]:
    """A parsed results.json checked against the schema, itself and any protocol it names; `name` says where."""
    try:
        validate(doc)
        check_consistency(doc)
    except ValueError as e:
        raise InvalidResults(f"{name}: {e}") from None
    off_protocol = protocol.results_violations(doc)
    if off_protocol:
        node = doc["config"]["protocol"]
        raise InvalidResults(f"{name}: names protocol {node.get('name')} but has {off_protocol[0]}")
    return doc


def _entry_results(path: Path, doc: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    """The runs of a leaderboard entry (bench.analysis.entries), each checked as a results.json is."""
    try:
        claimed, runs = entries.unpack(path, doc)
    except BenchError as e:
        raise InvalidResults(str(e)) from None
    out = []
    for name, text in runs:
        try:
            doc = checked_results(parse_strict_json(text), name)
        except ValueError as e:  # not strict JSON (json.JSONDecodeError is a ValueError)
            raise InvalidResults(f"{name}: {e}") from None
        if (doc["config"].get("protocol") or {}).get("name") != claimed:
            raise InvalidResults(f"{name}: the entry claims protocol {claimed}, this run does not")
        out.append((Path(name), doc))
    return out


def sweep_pointers(folder: Path) -> list[Path]:
    """The run folders a sweep folder points to: `python -m bench -m` keeps its multirun.yaml and one
    runs/<job>.txt per job (a path, read as text) there, while the runs live in the shared outputs/ folders."""
    if not (folder / "multirun.yaml").is_file():
        return []
    pointers = sorted((folder / "runs").glob("*.txt"))
    targets = [Path(p.read_text(errors="replace").strip()) for p in pointers]
    return [t / "results.json" for t in targets if (t / "results.json").is_file()]


def find_results(paths: Sequence[str | Path]) -> list[Path]:
    """results.json files: a file as given; for a folder every results.json below it (symlinks not followed) and,
    for a sweep folder, those of the runs it points to (sweep_pointers)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            below = [Path(d) / "results.json" for d, _, files in os.walk(p) if "results.json" in files]
            below = sorted(below) + sweep_pointers(p)
            if not below:
                raise BenchError(f"{p}: no results.json in this folder or below it")
            found.extend(below)
        else:
            raise BenchError(f"{p}: no such file or folder")
    unique: dict[Path, Path] = {}
    for f in found:
        unique.setdefault(f.resolve(), f)  # a run folder and its results.json given together count once
    return list(unique.values())


# ---------------------------------------------------------------- runs, tracks, groups


def result_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened config that decides what a run computes, seed aside: the identity of a group of seeds."""
    ignored = ("seed", "hydra", *NOT_RESULT_KEYS)
    return {
        k: v
        for k, v in sorted(flatten(config).items())
        # a key added since older runs, at the value they computed with, is left out so that both are one config
        if not any(k == i or k.startswith(f"{i}.") for i in ignored) and not as_before(k, v)
    }


@dataclass(frozen=True, order=True)
class Track:
    """What makes numbers comparable: the protocol, data, feature space, sample size, number of generations."""

    protocol: str  # the protocol's name and version (mnist-v1), "" for none: never ranked beside another
    dataset: str
    checksum: str
    extractor: str
    extractor_sha256: str
    n_generated: int
    generations: int

    @classmethod
    def of(cls, results: Mapping[str, Any]) -> Track:
        node = results["config"].get("protocol")
        return cls(
            protocol=str(node["name"]) if isinstance(node, Mapping) and node.get("name") else "",
            dataset=results["dataset"]["name"],
            checksum=results["dataset"]["checksum"],
            extractor=results["feature_extractor"]["name"],
            extractor_sha256=results["feature_extractor"]["sha256"],
            n_generated=int(results["evaluation"]["n_generated"]),
            generations=int(results["config"]["loop"]["generations"]),
        )

    @property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(self.fields).encode()).hexdigest()[:10]

    @property
    def fields(self) -> list[Any]:
        """The track's values in order: the JSON identity of a track, wherever one is keyed by it."""
        return list(astuple(self))

    def label(self) -> str:
        return (f"protocol {self.protocol} · " if self.protocol else "") + (
            f"{self.dataset} (data {self.checksum[:8]}) · features {self.extractor} ({self.extractor_sha256[:8]}) · "
            f"{self.n_generated} generated images scored · {self.generations} generations"
        )


@dataclass
class Run:
    path: Path
    results: dict[str, Any]
    track: Track
    config: dict[str, Any]  # result_config of the run
    seed: int
    summary: dict[str, Any]

    @property
    def key(self) -> str:
        return json.dumps([self.track.fields, self.config], sort_keys=True, default=str)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return Path(a).read_bytes() == Path(b).read_bytes()
    except OSError:
        return False


def make_run(path: str | Path, results: dict[str, Any], *, class_threshold: float = 0.5) -> Run:
    return Run(
        path=Path(path),
        results=results,
        track=Track.of(results),
        config=result_config(results["config"]),
        seed=int(results["config"]["seed"]),
        summary=summary_scores(results, class_threshold=class_threshold),
    )


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _read_all(
    files: Sequence[Path], *, skip_invalid: bool, warn: Callable[[str], None]
) -> Iterable[tuple[Path, dict[str, Any]]]:
    """(path, checked results) of each results.json and of each run of each entry among `files`."""
    for path in files:
        try:
            doc = _read(path)  # one strict read: an entry is told from a results.json by its content
            docs = _entry_results(path, doc) if entries.is_entry(doc) else [(path, checked_results(doc, str(path)))]
        except InvalidResults as e:
            if not skip_invalid:
                raise
            warn(f"{e} (skipped)")
            continue
        yield from docs


def load_runs(
    paths: Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    class_threshold: float = 0.5,
    warn: Callable[[str], None] = warn_stderr,
) -> list[Run]:
    """Finished, valid runs under `paths`. An invalid file or a second copy of a run (same config and seed)
    raises InvalidResults, or with skip_invalid=True is reported through `warn` and left out; unfinished runs
    are always left out with a warning."""
    runs: list[Run] = []
    seen: dict[tuple[str, int], Path] = {}
    for path, results in _read_all(find_results(paths), skip_invalid=skip_invalid, warn=warn):
        try:
            if results["status"] != "finished":
                n = len(results["generations"])
                warn(
                    f"{path}: status {results['status']} ({n} of {results['config']['loop']['generations']} "
                    "generations), skipped"
                )
                continue
            run = make_run(path, results, class_threshold=class_threshold)
            first = seen.setdefault((run.key, run.seed), path)
            if first != path and _same_bytes(first, path):
                continue  # an archived copy beside its run folder (docs/runs next to outputs/): one run, read once
            if first != path:
                raise InvalidResults(
                    f"{path}: config and seed {run.seed} repeat {first} with other numbers (the same run twice, "
                    "e.g. made on two machines: read one of the two folders)"
                )
        except InvalidResults as e:
            if not skip_invalid:
                raise
            warn(f"{e} (skipped)")
            continue
        runs.append(run)
    return runs


# ---------------------------------------------------------------- statistics


@functools.lru_cache(maxsize=1024)  # a few (p, df) pairs, asked thousands of times by λ*'s bootstrap
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t (scipy.stats.t); t_quantile(0.975, 2) = 4.3027."""
    assert 0.0 < p < 1.0 and df > 0, f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}"
    from scipy.stats import t  # type: ignore[import-untyped]  # on first use: a fast start without it

    return float(t.ppf(p, df))


@dataclass(frozen=True)
class Estimate:
    """Mean over seeds and its Student-t interval; low/high are None when n < 2 (undefined), mean None when n = 0."""

    mean: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        return None if self.high is None or self.mean is None else self.high - self.mean

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def estimate(values: Iterable[float | None], *, level: float = LEVEL) -> Estimate:
    """Mean and the two-sided `level` Student-t interval mean ± t_{(1+level)/2, n-1} s / sqrt(n); nulls left out."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(xs)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = math.fsum(xs) / n
    if n == 1:
        return Estimate(mean, None, None, 1)
    s = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    hw = t_quantile((1.0 + level) / 2.0, n - 1) * s / math.sqrt(n)
    return Estimate(mean, mean - hw, mean + hw, n)


def relative_spread(values: Iterable[float | None], *, level: float = LEVEL) -> float | None:
    """The half-width of the two-sided `level` Student-t interval of `values` as a share of their mean:
    t_{(1+level)/2, n-1} · s / sqrt(n) / |mean|, nulls and non-finite values left out. None with fewer than two
    values (no interval) or a mean of 0. FIDs 100, 110, 120: 4.3027 · 10 / sqrt(3) / 110 = 0.2258.

    The leaderboard's check that generation 0 is one model, not training noise (health.max_gen0_fid_spread)."""
    e = estimate(values, level=level)
    if e.half_width is None or not e.mean:
        return None
    share = e.half_width / abs(e.mean)
    return share if math.isfinite(share) else None


# ---------------------------------------------------------------- summary scores as flat numbers


def flat_scores(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """A summary (bench.report.summary) as {score name: number}: `fid.auc`, `class_loss.first_generation`, ...

    Event generations that did not happen within the run are T (censored), see the module docstring.
    """
    t_end = summary["n_generations"]
    out: dict[str, float | None] = {}
    for metric, scores in summary["metrics"].items():
        out.update({f"{metric}.{name}": value for name, value in scores.items()})
    loss = summary.get("class_loss")
    if loss is not None:
        for name in ("first_generation", "first_loss_generation"):
            first = loss[name]
            out[f"class_loss.{name}"] = t_end if first is None else first
        out["class_loss.n_below_last"] = loss["n_below"][-1] if loss["n_below"] else None
    minority = summary.get("minority")
    if minority is not None:
        first = minority["first_generation"]
        out["minority.first_generation"] = t_end if first is None else first
    return out


def direction(name: str) -> bool | None:
    """higher_is_better of a metric (METRIC_INFO) or a summary score (`fid.auc`: as fid; event generations: later
    is better; classes below the threshold: fewer is better); None where there is no better direction."""
    registry = metric_registry()
    if name in EVENT_SCORES:
        return True
    if name == "class_loss.n_below_last":
        return False
    metric = name.rsplit(".", 1)[0] if "." in name else name
    if metric == "minority_share":
        return True
    info = registry.get(metric)
    return None if info is None else info["higher_is_better"]


# ---------------------------------------------------------------- groups


@dataclass
class Group:
    """The seeds of one configuration in one track, with their statistics."""

    track: Track
    config: dict[str, Any]
    runs: list[Run]
    label: str = ""
    curves: dict[str, list[Estimate]] = field(default_factory=dict)  # metric -> one Estimate per generation
    scores: dict[str, Estimate] = field(default_factory=dict)  # summary score -> Estimate
    floor: dict[str, float | None] = field(default_factory=dict)  # the mean real-vs-real floor of its runs

    @property
    def id(self) -> str:
        return hashlib.sha256(self.runs[0].key.encode()).hexdigest()[:10]

    @property
    def seeds(self) -> list[int]:
        return sorted(r.seed for r in self.runs)

    @property
    def unhealthy(self) -> int:
        """How many of its runs have a generation 0 that failed the health gate."""
        return sum(1 for r in self.runs if r.results["generations"][0].get("healthy") is False)

    @property
    def gen0_fid_spread(self) -> float | None:
        """relative_spread of its seeds' generation-0 FIDs; None with fewer than two seeds that have one."""
        return relative_spread(_gen0_fid(r.results) for r in self.runs)

    @property
    def max_gen0_fid_spread(self) -> float:
        """The limit on gen0_fid_spread: health.max_gen0_fid_spread of its runs' resolved configs (the smallest, if
        they differ), DEFAULT_MAX_GEN0_FID_SPREAD where a config has none (results written before it existed)."""
        return min(_max_gen0_fid_spread(r.results["config"]) for r in self.runs)

    @property
    def gen0_unstable(self) -> bool:
        """Its seeds' generation 0 disagree more than the limit allows: the recipe's generation 0 is training noise,
        and so are its collapse numbers. Such an entry is flagged on the leaderboard, still ranked."""
        spread = self.gen0_fid_spread
        return spread is not None and spread > self.max_gen0_fid_spread


def _gen0_fid(results: Mapping[str, Any]) -> float | None:
    first = next((g for g in results.get("generations") or [] if g.get("generation") == 0), None)
    return None if first is None else number((first.get("metrics") or {}).get("fid"))


def _max_gen0_fid_spread(config: Mapping[str, Any]) -> float:
    health = config.get("health")
    value = number(health.get("max_gen0_fid_spread")) if isinstance(health, dict) else None
    return value if value is not None and value > 0 else DEFAULT_MAX_GEN0_FID_SPREAD


def aggregate_group(runs: Sequence[Run], *, level: float = LEVEL) -> Group:
    """Mean and interval over the seeds `runs` (one config, one track) of every metric at every generation and
    every summary score."""
    assert runs and len({r.key for r in runs}) == 1, "a group is runs of one config in one track"
    group = Group(track=runs[0].track, config=runs[0].config, runs=sorted(runs, key=lambda r: r.seed))
    metric_keys = [k for k in runs[0].summary["metrics"] if all(k in r.summary["metrics"] for r in runs)]
    for key in metric_keys:
        group.curves[key] = [
            estimate((number(r.results["generations"][t]["metrics"].get(key)) for r in runs), level=level)
            for t in range(group.track.generations)
        ]
    per_run = [flat_scores(r.summary) for r in runs]
    names = list(dict.fromkeys(k for s in per_run for k in s))
    group.scores = {k: estimate((s.get(k) for s in per_run), level=level) for k in names}
    floors = [r.results["floor"] for r in runs]
    group.floor = {k: estimate(number(f.get(k)) for f in floors).mean for k in metric_keys}
    return group


def group_runs(runs: Sequence[Run], *, level: float = LEVEL) -> dict[Track, list[Group]]:
    """Runs -> {track: groups of seeds}, tracks sorted, each group labelled by what sets it apart in its track."""
    by_key: dict[str, list[Run]] = {}
    for r in runs:
        by_key.setdefault(r.key, []).append(r)
    tracks: dict[Track, list[Group]] = {}
    for members in by_key.values():
        group = aggregate_group(members, level=level)
        tracks.setdefault(group.track, []).append(group)
    for groups in tracks.values():
        label_groups(groups)
        groups.sort(key=lambda g: g.label)
    return dict(sorted(tracks.items()))


def label_groups(groups: Sequence[Group]) -> None:
    """`model loop key=value ...`: model and loop names, then the config keys whose values differ in the track."""
    keys = sorted({k for g in groups for k in g.config})
    varying = [k for k in keys if len({json.dumps(g.config.get(k), default=str) for g in groups}) > 1]
    shown = [k for k in varying if k not in ("model.name", "loop.name") and not k.endswith("._target_")]
    for g in groups:
        parts = [str(g.config.get("model.name", "?")), str(g.config.get("loop.name", "?"))]
        parts += [f"{k}={value_text(g.config[k])}" for k in shown if k in g.config]
        g.label = " ".join(parts)


def value_text(v: Any) -> str:
    return json.dumps(v, default=str) if not isinstance(v, str) else v
