"""bench: a benchmark for model collapse in image generative models."""

__version__ = "0.1.0"
