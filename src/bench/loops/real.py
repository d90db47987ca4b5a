"""The control: every generation retrains on a new real draw of |D_0| images and never sees synthetic data.

Whatever drift this loop shows comes from retraining alone, so it must not be read as collapse.
"""

from bench.loops.base import Loop, TrainingSet


class Real(Loop):
    name = "real"
    mixes_real_and_synthetic = False

    def compose(self, t, ctx):
        real = ctx.real_draw(t, len(ctx.initial))
        return TrainingSet(real, len(real), 0, f"real draw[{len(real)}]")
