"""Real data sets (loaded by Hydra `_target_` from conf/data/*.yaml).

Also the composition of each generation's training set.
"""

from bench.data.images import ImageDataset

__all__ = ["ImageDataset"]
