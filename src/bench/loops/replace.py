"""Fully synthetic: D_t = S_{t-1}. Shumailov et al. 2023; MAD's fully-synthetic loop."""

from bench.loops.base import Loop, join


class Replace(Loop):
    name = "replace"
    mixes_real_and_synthetic = False

    def compose(self, t, ctx):
        s = ctx.synthetic(t - 1)[: self.synthetic_size]
        return join(None, [s], f"S_{t - 1}[{len(s)}]")
