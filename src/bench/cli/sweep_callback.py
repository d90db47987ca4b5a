"""After a multirun, the sweep's leaderboard: a Hydra callback named in conf/config.yaml (hydra.callbacks).

Each job, wherever a launcher ran it (this process, a joblib worker, a SLURM node), leaves a pointer to its run
folder in <sweep dir>/runs/<job number>.txt; when every job has returned, the launching process rebuilds the
sweep's leaderboard (leaderboard.md / .csv / .html) in the sweep folder from those run folders. The runs
themselves live in the shared outputs/<data>-<model>-<loop>/<overrides>/ folders, so a sweep and a single run of
one config share one folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from bench.io.atomic import write_text

log = logging.getLogger("bench")


class SweepLeaderboard(Callback):
    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        run_dir = Path(str(config.hydra.runtime.output_dir)).resolve()
        write_text(sweep_dir / "runs" / f"{int(config.hydra.job.num)}.txt", f"{run_dir}\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from bench.analysis.leaderboard import build_leaderboard
        from bench.errors import BenchError

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:  # the leaderboard follows the sweep folder's runs/<job>.txt pointers (aggregate.sweep_pointers)
            # echo: the entries, one line each (rank, label, the ranking score), and the files written
            build_leaderboard([sweep_dir], out_dir=sweep_dir, echo=lambda text: log.info(f"sweep leaderboard:\n{text}"))
        except BenchError as e:  # the runs are safe on disk: a leaderboard problem must not fail the sweep
            log.warning(f"sweep {sweep_dir}: leaderboard not built: {e}")
