"""`python -m bench [overrides]`: compose the Hydra config and call the pure `bench.run.run(cfg)`.

Errors a user can fix (bad names, sizes, fractions, damaged files) print one line and exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from bench.errors import BenchError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def config_groups() -> tuple[str, ...]:
    """Every top-level config group: each folder of conf/ (a new one, such as `sampling`, is checked too)."""
    if not CONF_DIR.is_dir():
        return ()
    return tuple(
        sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", ".", "hydra")))
    )


CHECKED_GROUPS = config_groups()


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml") if not p.stem.startswith("_"))


def check_group_choices(argv: list[str]) -> None:
    """Name a bad `model=`/`loop=`/`data=` choice in one line, before Hydra prints its multi-line report."""
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if not sep or key not in CHECKED_GROUPS or value in ("null", ""):
            continue
        if value.startswith(("choice(", "range(", "glob(")):
            continue
        allowed = group_options(key)
        for choice in value.split(","):  # multirun: loop=replace,replay
            if choice not in allowed:
                raise BenchError(f"unknown {key} {choice!r}; allowed: {', '.join(allowed)}")


def run_name(override_dirname: str) -> str:
    """The run folder below <data>-<model>-<loop>/: the other overrides, or `default`."""
    return override_dirname.replace("/", "_") or "default"


OmegaConf.register_new_resolver("bench_run_name", run_name, replace=True)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    from bench.run import run  # heavy imports after Hydra has parsed the command line (fast --help)

    try:
        run(cfg)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def entry() -> None:
    if not CONF_DIR.is_dir():
        sys.exit(f"error: config folder {CONF_DIR} not found; install the project in place with `pip install -e .`")
    try:
        check_group_choices(sys.argv[1:])
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    entry()
