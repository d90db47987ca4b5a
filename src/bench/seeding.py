"""Every random stream of a run is derived from (seed, purpose, generation), never from a running state.

That is what makes a resumed run identical to an uninterrupted one: generation t draws the same
numbers whether or not generations 0..t-1 ran in this process.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def derive_seed(seed: int, *keys: int | str) -> int:
    words = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint32)[0])


def generator(seed: int, *keys: int | str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, *keys))
