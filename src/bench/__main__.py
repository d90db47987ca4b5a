"""`python -m bench [overrides]`: compose the Hydra config and call the pure `bench.engine.run.run(cfg)`.

Errors a user can fix (bad names, sizes, fractions, damaged files) print one line and exit 2.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

# CONF_DIR and friends are re-exported: tools and tests written against bench.__main__ keep working
from bench.config import CHECKED_GROUPS, CONF_DIR, check_group_choices, config_groups, group_options, run_name
from bench.errors import BenchError

__all__ = ["CHECKED_GROUPS", "CONF_DIR", "check_group_choices", "config_groups", "entry", "group_options", "run_name"]


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    from bench.engine.run import run  # heavy imports after Hydra has parsed the command line (fast --help)

    try:
        run(cfg)
    except (BenchError, OSError) as e:  # OSError: a full disk, a read-only folder; every file is written whole
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def entry() -> None:
    if not CONF_DIR.is_dir():
        sys.exit(f"error: config folder {CONF_DIR} not found; reinstall the package (`pip install .`)")
    try:
        check_group_choices(sys.argv[1:])
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    entry()
