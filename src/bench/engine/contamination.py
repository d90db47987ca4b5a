"""A contaminated "real" pool: a share of the real training images replaced by a fixed earlier generator's images.

The web's "human" data is already partly model-made (33-46% of crowd-sourced "human" text, Veselovsky et al.
2023), so a benchmark's "fresh real data" may not be. `data.contamination=c` replaces round(c x pool) images of
the real train pool (never the test set, which scores every generation) at positions fixed by
`data.contamination_seed`; D_0 and every later real draw (loop=real, replay, fresh) then come from that pool.

The earlier generator (`data.contamination_source`):
* null: generation 0 of this run's own model config, trained on a D_0 drawn from the clean pool with
  contamination_seed (not the run's seed: the pool is the same for every seed of a sweep). Its images are
  cached under cache_dir, keyed by everything that decides them, and identified in results.json by sha256.
* a path to a run folder's gen_XXX/ (its samples.npy), a .npy/.npz array or a folder of PNGs, read as
  `python -m bench.evaluate --samples` reads them (never unpickled).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from bench.config import NOT_RESULT_KEYS
from bench.data.images import arrays_checksum
from bench.engine.evaluation import Evaluator
from bench.errors import BenchError, check_positive
from bench.io.atomic import npy_bytes, torch_bytes, write_bytes
from bench.io.image_files import load_images
from bench.report.run_folder import load_checkpoint
from bench.seeding import derive_seed, generator

log = logging.getLogger("bench")

# trainer keys that do not change the trained weights' recipe: those that name no run (threads change float sums,
# not the recipe), and where training curves are logged
_NOT_TRAINING_KEYS = (
    *(k.removeprefix("trainer.") for k in NOT_RESULT_KEYS if k.startswith("trainer.")),
    "logger",
    "log_every_n_steps",
)


def check_share(value: Any) -> float:
    """data.contamination must be a number in [0, 1): a pool that is all synthetic has no real data left."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise BenchError(f"data.contamination={value} is outside the allowed range [0, 1)")
    return float(value)


def check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BenchError(f"data.contamination_seed={value} must be a non-negative integer")
    return value


@dataclass(frozen=True)
class PoolContamination:
    """What decides the contaminated pool: data.contamination (`share`), contamination_seed and _source, and, for the
    trained earlier generator, the run's model, trainer, sampling and D_0 size; built from a config by `of`, so no
    part below reads the whole config."""

    share: float
    seed: int
    source: str | None
    model: DictConfig
    trainer: DictConfig
    sampling: dict[str, Any]  # the run's sampling settings (keyword arguments of model.sample)
    n_train: int
    cache_dir: Path

    @classmethod
    def of(cls, cfg: DictConfig) -> PoolContamination:
        from bench.models.factory import sampling_settings

        return cls(
            share=check_share(cfg.data.get("contamination", 0.0)),
            seed=check_seed(cfg.data.get("contamination_seed", 0)),
            source=cfg.data.get("contamination_source"),
            model=cfg.model,
            trainer=cfg.trainer,
            sampling=sampling_settings(cfg),
            n_train=check_positive("data.n_train", cfg.data.n_train),
            cache_dir=Path(cfg.cache_dir),
        )


def earlier_generator(spec: PoolContamination, evaluator: Evaluator, n: int, purpose: str) -> tuple[torch.Tensor, dict]:
    """n images of the fixed earlier generator (see module docstring) and where they came from.

    `purpose` names an independent stream of its samples: the pool's contaminating images and the audit's
    known-synthetic training images are different draws of the same generator (trained once, then cached).
    """
    data = evaluator.dataset
    if spec.source is not None:
        images = load_images(spec.source, data.image_shape, "data.contamination_source")
        if len(images) < n:
            raise BenchError(
                f"data.contamination_source {spec.source} holds {len(images)} images; {n} are needed "
                f"(data.contamination x the pool of {len(data.train_images)})"
            )
        # different purposes take different images of the file, in a fixed order
        order = torch.randperm(len(images), generator=generator(spec.seed, "contamination_file", purpose))
        images = images[order[:n]]
        return images, {"source": str(spec.source), "sha256": arrays_checksum(images)}
    return _trained_generator_images(spec, evaluator, n, purpose)


def _generator_key(spec: PoolContamination, evaluator: Evaluator) -> tuple[str, dict]:
    """What decides the trained earlier generator, and only that: the data (by checksum), its D_0 size and seed,
    the classifier that labels D_0 for a conditional model, the model, its sampling settings and the trainer keys
    that change training."""
    trainer = OmegaConf.to_container(spec.trainer, resolve=True)
    assert isinstance(trainer, dict)
    key = {
        "data_checksum": evaluator.dataset.checksum,
        "n_train": spec.n_train,
        "contamination_seed": spec.seed,
        "classifier": evaluator.classifier.sha256 if evaluator.classifier is not None else None,
        "model": OmegaConf.to_container(spec.model, resolve=True),
        "sampling": spec.sampling,
        "trainer": {k: v for k, v in trainer.items() if k not in _NOT_TRAINING_KEYS},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest(), key


def _trained_generator_images(
    spec: PoolContamination, evaluator: Evaluator, n: int, purpose: str
) -> tuple[torch.Tensor, dict]:
    from bench.models.factory import build_model

    data = evaluator.dataset
    key, described = _generator_key(spec, evaluator)
    folder = spec.cache_dir / "contamination"
    stem = f"{spec.model.name}-gen0-{key[:16]}"
    model_path = folder / f"{stem}.pt"
    samples_path = folder / f"{stem}-{purpose}-{n}.npy"
    info = {
        "source": f"generation 0 of model={spec.model.name}, contamination_seed={spec.seed}",
        "cache_file": str(samples_path),
    }
    if samples_path.is_file():
        images = load_images(samples_path, data.image_shape, "cached earlier-generator images")
        return images, {**info, "sha256": arrays_checksum(images)}

    # built and trained like a run's generation 0 (bench.engine.run): the model config, what the data injects, labels
    model = build_model(spec.model, **evaluator.model_info)
    if model_path.is_file():
        model.load_state_dict(load_checkpoint(model_path))
    else:
        _train(spec, evaluator, model)
        write_bytes(model_path, torch_bytes({k: v.detach().cpu() for k, v in model.state_dict().items()}))
        write_bytes(folder / f"{stem}.json", json.dumps(described, indent=1, default=str).encode())
    images = model.sample(n, generator=generator(spec.seed, "contaminator", purpose), **spec.sampling).cpu()
    write_bytes(samples_path, npy_bytes(images.numpy()))
    return images, {**info, "sha256": arrays_checksum(images)}


def _train(spec: PoolContamination, evaluator: Evaluator, model) -> None:
    """Generation 0 of the run's model on a D_0 drawn from the clean pool with the contamination seed."""
    from bench.engine.train import fit

    data = evaluator.dataset
    n_train = min(spec.n_train, len(data.train_images))
    index = torch.randperm(len(data.train_images), generator=generator(spec.seed, "contaminator", "initial"))[:n_train]
    images = data.train_images[index]
    log.info(f"training the earlier generator (model={spec.model.name}, {n_train} real images) for contamination")
    torch.manual_seed(derive_seed(spec.seed, "contaminator", "init"))
    with tempfile.TemporaryDirectory() as logs:
        fit(
            model,
            images,
            labels=evaluator.training_labels(model, images),
            trainer_cfg=spec.trainer,
            seed=derive_seed(spec.seed, "contaminator", "train"),
            log_dir=logs,
        )
    model.cpu()


def contaminate(spec: PoolContamination, evaluator: Evaluator) -> tuple[torch.Tensor, torch.Tensor, dict | None]:
    """The train pool the loop draws from (contaminated as configured), a mask of the replaced positions, and what
    results.json records about it (None when data.contamination is 0). The data set itself, its checksum and its
    test set stay clean: scoring and the feature extractor's fit are unchanged."""
    pool = evaluator.dataset.train_images
    mask = torch.zeros(len(pool), dtype=torch.bool)
    n_replaced = round(spec.share * len(pool))
    if n_replaced == 0:
        return pool, mask, None
    positions = torch.randperm(len(pool), generator=generator(spec.seed, "contamination", "positions"))[:n_replaced]
    images, source = earlier_generator(spec, evaluator, n_replaced, "pool")
    pool = pool.clone()
    pool[positions] = images.to(pool.dtype)
    mask[positions] = True
    info = {"share": spec.share, "n_replaced": n_replaced, "n_pool": len(pool), "seed": spec.seed, **source}
    return pool, mask, info
