"""D_t of a saved run rebuilt from its config and folder: what generation t trained on, for scoring a saved
generation again (`bench.resample`) exactly as the run scored it (memorisation of D_t, its entropy)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from bench.build import build
from bench.engine.contamination import PoolContamination
from bench.engine.curation import Curator
from bench.engine.real_side import RealSide
from bench.loops import Loop, LoopContext
from bench.report.run_folder import RunFolder


def rebuilt_training_set(cfg: DictConfig, real: RealSide, folder: RunFolder, t: int) -> torch.Tensor:
    """The images generation t of the run in `folder` trained on: the loop's own composition from D_0, the real
    pool and the saved samples (curated again, deterministically, when the run curated). Build it inside the
    caller's `only_registered_targets`: the loop class comes from the stored config."""
    loop: Loop = build(cfg.loop)
    curator = Curator(loop, real, PoolContamination.of(cfg), seed=int(cfg.seed)) if loop.curation else None
    ctx = LoopContext(
        seed=int(cfg.seed),
        initial=real.initial,
        real_pool=real.pool,
        initial_index=real.initial_index,
        synthetic=curator.wrap(folder.load_samples) if curator else folder.load_samples,
    )
    return loop.training_set(t, ctx).images
