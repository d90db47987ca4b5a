"""Fresh data: D_t = a new real draw (never trained on before) + S_{t-1}. MAD's fresh-data loop."""

from bench.errors import BenchError, check_positive
from bench.loops.base import Loop, join


class Fresh(Loop):
    name = "fresh"

    def __init__(self, *, real_size: int, **common):
        super().__init__(**common)
        self.real_size = check_positive("loop.real_size", real_size)

    def check_sizes(self, *, n_initial, n_pool):
        needed = self.real_size * (self.generations - 1)
        if needed > n_pool - n_initial:
            raise BenchError(
                f"loop=fresh needs {needed} unseen real images "
                f"(loop.real_size={self.real_size} x {self.generations - 1} generations) "
                f"but only {n_pool - n_initial} are outside D_0"
            )

    def compose(self, t, ctx):
        real = ctx.fresh_real(t, self.real_size)
        s = ctx.synthetic(t - 1)[: self.synthetic_size]
        return join(real, [s], f"fresh[{len(real)}] + S_{t - 1}[{len(s)}]")
