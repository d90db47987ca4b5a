"""Accumulate: D_t = D_0 + S_0 + ... + S_{t-1} (Gerstgrasser et al. 2024).

With `budget`, the union is subsampled uniformly to that many images (Kazdan et al. 2024's
accumulate-subsample), so the data budget stays fixed while synthetic data piles up.
"""

import torch

from bench.errors import check_positive
from bench.loops.base import Loop, TrainingSet


class Accumulate(Loop):
    name = "accumulate"

    def __init__(self, *, budget: int | None = None, **common):
        super().__init__(**common)
        self.budget = None if budget is None else check_positive("loop.budget", budget)

    def compose(self, t, ctx):
        parts = [ctx.initial] + [ctx.synthetic(s)[: self.synthetic_size] for s in range(t)]
        is_real = torch.cat([torch.full((len(p),), i == 0) for i, p in enumerate(parts)])
        images = torch.cat(parts)
        sources = f"D_0[{len(ctx.initial)}] + S_0..S_{t - 1}[{self.synthetic_size} each]"
        if self.budget is not None and self.budget < len(images):
            keep = torch.randperm(len(images), generator=ctx.generator(t, "accumulate_budget"))[: self.budget]
            images, is_real = images[keep], is_real[keep]
            sources += f", subsampled to {self.budget}"
        n_real = int(is_real.sum())
        return TrainingSet(images, n_real, len(images) - n_real, sources, is_real=is_real)
