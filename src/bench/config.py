"""Where the configs live, which keys name a run, and `compose()` for tools and tests.

The configs ship inside the package (`bench/conf`, a link to the repository's top-level `conf/` in a source
checkout, real files in an installed wheel), so `pip install .` gives a working `python -m bench`. A user adds a
model, data set or loop from a folder of their own (`--config-dir DIR`, or `hydra.searchpath=[file://DIR]`);
the up-front name check looks there too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.errors import BenchError

CONF_DIR = Path(__file__).resolve().parent / "conf"
CONFIG_MODULE = "pkg://bench.conf"

# Keys that do not change what a run computes. One list feeds both the run-folder name (Hydra's
# override_dirname leaves them out) and the resume check (they may differ between a run and its resumption), so a
# parallel sweep with one thread per job and a sequential run of the same config share one folder.
NOT_RESULT_KEYS: tuple[str, ...] = (
    "run_dir",
    "cache_dir",
    "trainer.enable_progress_bar",
    "trainer.num_threads",
    "sweep",  # a sweep preset only sets hydra.sweeper.params: what the job runs is in its own overrides
)
# Keys added to a config after run folders existed, each with the value that computes what runs without the key did.
# A run folder written before a key existed resumes under the new config, and is found by its config (the
# leaderboard's groups, the board's and the reproductions' runs), as long as the key has this value; any other
# value is another run. Add a key here when adding it to conf/ with a default that keeps the old behaviour.
ADDED_KEYS: dict[str, Any] = {
    "model.prediction_type": "epsilon",  # model=ddpm, before v-prediction was offered
    "model.snr_gamma": None,  # model=ddpm, before min-SNR-gamma weighting was offered
    "model.lr_schedule": "constant",  # ddpm, flow, ldm: before the cosine decay was offered
    "sampling.t_min": None,  # ddpm, flow, ldm: before the sampler's smallest time was a setting
    "sampling.negative_guidance": 0.0,  # ddpm, flow, ldm: before negative guidance was offered
    "model.auxiliary_steps": 300,  # read only with sampling.negative_guidance > 0
    "loop.real_weight": None,  # before weighted real data was offered: every image of D_t equally
    "loop.verifier_n_labelled": 1000,  # read by loop.curation=verifier only, which did not exist before it
}
# the feature spaces `metrics.extractor=NAME` builds by name: their loaders (registered targets of the trust boundary)
STANDARD_EXTRACTORS: dict[str, str] = {
    "inception": "bench.features.inception.load_inception",
    "dinov2": "bench.features.dinov2.load_dinov2",
}
# model, data and loop name the folder above the run (<data>-<model>-<loop>/), so they are left out of its name too
FOLDER_KEYS: tuple[str, ...] = ("model", "data", "loop")


def folder_exclude_keys() -> list[str]:
    """hydra.job.config.override_dirname.exclude_keys (see conf/config.yaml)."""
    return [*FOLDER_KEYS, *NOT_RESULT_KEYS]


def run_name(override_dirname: str) -> str:
    """The run folder below <data>-<model>-<loop>/: the other overrides, or `default`."""
    return override_dirname.replace("/", "_") or "default"


def sweep_climb(hydra_overrides: Sequence[str]) -> str:
    """The start of hydra.sweep.subdir: `../../` (out of outputs/sweeps/<time>/, into the shared run folders that a
    single run of the same config uses) unless the user named hydra.sweep.dir on the command line, in which case every
    run of the sweep stays under the folder they named."""
    named = any(str(o).lstrip("+~").startswith("hydra.sweep.dir=") for o in hydra_overrides)
    return "" if named else "../../"


OmegaConf.register_new_resolver("bench_run_name", run_name, replace=True)
OmegaConf.register_new_resolver("bench_sweep_climb", sweep_climb, replace=True)
OmegaConf.register_new_resolver("bench_folder_exclude_keys", folder_exclude_keys, replace=True)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as {dotted key: leaf value} (lists are leaves)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(flatten(v, f"{key}.") if isinstance(v, Mapping) else {key: v})
    return out


def as_before(key: str, value: Any) -> bool:
    """Whether dotted `key` with `value` computes what a config without the key computed (ADDED_KEYS)."""
    return key in ADDED_KEYS and value == ADDED_KEYS[key]


def config_groups(conf_dir: Path = CONF_DIR) -> tuple[str, ...]:
    """Every top-level config group: each folder of conf/ (a new one, such as `sampling`, is checked too)."""
    if not conf_dir.is_dir():
        return ()
    return tuple(
        sorted(p.name for p in conf_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", ".", "hydra")))
    )


CHECKED_GROUPS = config_groups()


def group_options(group: str, extra_dirs: Iterable[Path] = ()) -> list[str]:
    """The choices of a group: our YAMLs plus those of the user's own config folders."""
    names: set[str] = set()
    for d in (CONF_DIR, *extra_dirs):
        names.update(p.stem for p in (Path(d) / group).glob("*.yaml") if not p.stem.startswith("_"))
    return sorted(names)


def _search_path_dir(entry: str) -> Path | None:
    """A folder from a hydra.searchpath entry (file://DIR, pkg://module.path, or a plain path)."""
    entry = entry.strip().strip("'\"")
    if entry.startswith("pkg://"):
        try:
            return Path(str(resources.files(entry.removeprefix("pkg://"))))
        except (ModuleNotFoundError, TypeError, ValueError):
            return None
    return Path(entry.removeprefix("file://"))


def user_config_dirs(argv: Sequence[str]) -> list[Path]:
    """The user's config folders named on the command line: --config-dir/-cd DIR and hydra.searchpath=[...]."""
    dirs: list[Path] = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith(("--config-dir=", "-cd=")):
            dirs.append(Path(arg.split("=", 1)[1]))
        elif arg.lstrip("+").startswith("hydra.searchpath="):
            value = arg.split("=", 1)[1].strip()
            for entry in re.split(r",", value.strip("[]")):
                d = _search_path_dir(entry) if entry.strip() else None
                if d is not None:
                    dirs.append(d)
    return dirs


def check_group_choices(argv: Sequence[str]) -> None:
    """Name a bad `model=`/`loop=`/`data=` choice in one line, before Hydra prints its multi-line report."""
    extra = user_config_dirs(argv)
    groups = set(CHECKED_GROUPS).union(*(config_groups(d) for d in extra))
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if not sep or key not in groups or value in ("null", ""):
            continue
        if value.startswith(("choice(", "range(", "glob(")):
            continue
        allowed = group_options(key, extra)
        for choice in value.split(","):  # multirun: loop=replace,replay
            if choice not in allowed:
                raise BenchError(f"unknown {key} {choice!r}; allowed: {', '.join(allowed)}")


def compose(overrides: Sequence[str] = (), *, config_dirs: Sequence[Path] = ()) -> DictConfig:
    """The config a `python -m bench OVERRIDES` run would get (without the hydra node), for tools and tests."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    extra = (
        [f"hydra.searchpath=[{','.join(f'file://{Path(d).resolve()}' for d in config_dirs)}]"] if config_dirs else []
    )
    from hydra.core.global_hydra import GlobalHydra

    check_group_choices([*overrides, *extra])
    if GlobalHydra.instance().is_initialized() and not config_dirs:
        # inside a running `python -m bench` (a protocol's reference values): Hydra is set up, compose in it
        return hydra_compose("config", overrides=list(overrides))
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return hydra_compose("config", overrides=[*overrides, *extra])
