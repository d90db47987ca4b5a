"""A PNG grid of sample images (torchvision's make_grid)."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from bench.io.atomic import write_bytes


def grid_png(images: torch.Tensor, *, nrow: int = 8, max_images: int = 64) -> bytes:
    grid = make_grid(images[:max_images], nrow=nrow, padding=2, pad_value=128)  # uint8 in, uint8 out
    buf = io.BytesIO()
    Image.fromarray(grid.permute(1, 2, 0).numpy().squeeze()).save(buf, format="PNG")
    return buf.getvalue()


def save_grid(path: Path, images: torch.Tensor, **kw) -> None:
    write_bytes(path, grid_png(images, **kw))
