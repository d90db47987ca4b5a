"""Fixed-size mix: a share `real_fraction` of D_t replays real images from D_0, the rest is S_{t-1}.

Bertrand et al. 2024 (lambda = synthetic / real), MAD. |D_t| = |D_0|; the real part is a seeded
subsample of D_0 redrawn each generation.
"""

from bench.errors import BenchError, check_fraction
from bench.loops.base import Loop, join


class Replay(Loop):
    name = "replay"

    def __init__(self, *, real_fraction: float = 0.5, **common):
        super().__init__(**common)
        self.real_fraction = check_fraction("loop.real_fraction", real_fraction)
        if self.real_weight is not None and self.real_fraction in (0.0, 1.0):
            kind = "synthetic" if self.real_fraction == 0.0 else "real"
            raise BenchError(
                f"loop.real_weight={self.real_weight} with loop.real_fraction={self.real_fraction}: D_t is all {kind}, "
                "so there is nothing to weigh; set loop.real_fraction strictly between 0 and 1"
            )

    def counts(self, n_initial: int) -> tuple[int, int]:
        n_real = round(self.real_fraction * n_initial)
        return n_real, n_initial - n_real

    def check_sizes(self, *, n_initial, n_pool):
        _, n_synth = self.counts(n_initial)
        if n_synth > self.synthetic_size:
            raise BenchError(
                f"loop.synthetic_size={self.synthetic_size} is too small: "
                f"replay with real_fraction={self.real_fraction} "
                f"needs {n_synth} synthetic images per generation"
            )

    def compose(self, t, ctx):
        n_real, n_synth = self.counts(len(ctx.initial))
        real = ctx.subsample(ctx.initial, n_real, t, "replay_real")
        synth = ctx.synthetic(t - 1)[:n_synth]
        return join(real, [synth], f"D_0[{n_real}] + S_{t - 1}[{n_synth}]")
