"""The run folder on disk: one `gen_XXX/` per finished generation, written whole or not at all.

A generation is assembled in `gen_XXX.tmp/` and renamed into place as its last step, so on resume
a generation either exists completely (record.json, model.pt, samples.npy, samples.png) or not at all.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError
from bench.io.atomic import json_text, npy_bytes, torch_bytes, write_bytes
from bench.io.strict_json import read_json
from bench.report.grid import grid_png

GEN_RE = re.compile(r"^gen_(\d{3,})$")


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def gen_dir(self, t: int) -> Path:
        return self.path / f"gen_{t:03d}"

    def finished(self) -> list[int]:
        """Generations 0..k-1 that are complete, in order; anything after a gap is an error, not silently redone."""
        done = sorted(
            int(m.group(1))
            for p in self.path.iterdir()
            if (m := GEN_RE.match(p.name)) and (p / "record.json").is_file()
        )
        if done != list(range(len(done))):
            missing = next(t for t in range(len(done) + 1) if t not in done)
            raise BenchError(
                f"run folder {self.path} has generations {done} but gen_{missing:03d} is missing; "
                "later generations depend on it — delete the ones after it or use a new run folder"
            )
        return done

    def load_record(self, t: int) -> dict:
        record = read_json(self.gen_dir(t) / "record.json")
        assert record is not None, f"generation {t} has no record.json"
        return record

    def clear_partial(self) -> None:
        for p in self.path.glob("gen_*.tmp"):
            shutil.rmtree(p)

    def commit_generation(
        self,
        t: int,
        *,
        record: dict,
        state_dict: dict,
        samples: torch.Tensor,
        export: Callable[[Path], None] | None = None,
    ) -> Path:
        """`export(folder)` may add a model's own format (e.g. diffusers' save_pretrained) to the generation."""
        return commit_folder(self.gen_dir(t), record=record, samples=samples, state_dict=state_dict, export=export)

    # reading back
    def load_samples(self, t: int) -> torch.Tensor:
        path = self.gen_dir(t) / "samples.npy"
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False))
        except Exception as e:
            raise BenchError(
                f"samples {path} cannot be read ({type(e).__name__}); "
                f"delete {self.gen_dir(t).name} and later generations to redo them"
            ) from None

    def load_state_dict(self, t: int) -> dict:
        path = self.gen_dir(t) / "model.pt"
        return load_checkpoint(path)


def load_checkpoint(path: Path) -> dict:
    """A state_dict saved by this project; weights_only=True, so nothing but tensors is ever unpickled."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise BenchError(
            f"corrupt checkpoint {path} ({type(e).__name__}); delete its generation folder to retrain it"
        ) from None
    if not isinstance(state, dict):
        raise BenchError(f"corrupt checkpoint {path}: expected a state_dict, found {type(state).__name__}")
    return state


def commit_folder(
    final: Path,
    *,
    record: dict,
    samples: torch.Tensor,
    state_dict: dict | None = None,
    export: Callable[[Path], None] | None = None,
) -> Path:
    """Write a folder whole or not at all: assembled in `<final>.tmp`, record.json last, then renamed into place.

    Used for every generation and every resampling: a folder with record.json is complete.
    """
    final = Path(final)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if export is not None:
        export(tmp)
    if state_dict is not None:
        write_bytes(tmp / "model.pt", torch_bytes(state_dict))
    write_bytes(tmp / "samples.npy", npy_bytes(samples.numpy()))
    write_bytes(tmp / "samples.png", grid_png(samples))
    # record.json last: its presence is what marks the folder finished
    write_bytes(tmp / "record.json", json_text(record).encode())
    if final.exists():  # a folder without record.json is an unfinished leftover
        shutil.rmtree(final)
    tmp.rename(final)
    return final
