"""Synthetic augmentation: D_t = D_0 + S_{t-1}, the fixed real set plus the last synthetic sample. MAD."""

from bench.loops.base import Loop, join


class Augment(Loop):
    name = "augment"

    def compose(self, t, ctx):
        s = ctx.synthetic(t - 1)[: self.synthetic_size]
        return join(ctx.initial, [s], f"D_0[{len(ctx.initial)}] + S_{t - 1}[{len(s)}]")
