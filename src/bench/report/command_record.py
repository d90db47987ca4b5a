"""`.hydra/` in a run folder: Hydra's record of the command (config.yaml, hydra.yaml, overrides.yaml).

Hydra would write these before the job starts, so a second process refused by the run folder's lock had already
rewritten a live run's record with its own settings. conf/config.yaml turns Hydra's writing off
(`hydra.output_subdir: null`) and the run writes the same three files here, once it holds the lock.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bench.io.atomic import write_text

RECORD_DIR = ".hydra"


def save_command_record(run_dir: str | Path, cfg: DictConfig) -> None:
    """Write what Hydra's run_job would have (its files, names and unresolved YAML); nothing outside a Hydra app."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():  # run(cfg) called from Python (tests, tools): no command to record
        return
    hydra_cfg = HydraConfig.get()
    out = Path(run_dir) / RECORD_DIR
    write_text(out / "config.yaml", OmegaConf.to_yaml(cfg))
    write_text(out / "hydra.yaml", OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})))
    write_text(out / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.overrides.task))
