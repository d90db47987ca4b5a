"""Loop kinds: how each generation's training set is composed from real and synthetic data."""

from bench.loops.base import Loop, LoopContext, TrainingSet

__all__ = ["Loop", "LoopContext", "TrainingSet"]
