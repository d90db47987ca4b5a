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
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from bench.config import NOT_RESULT_KEYS
from bench.data.images import arrays_checksum
from bench.errors import BenchError, check_positive
from bench.evaluate import load_images
from bench.evaluation import Evaluator
from bench.report.atomic import npy_bytes, torch_bytes, write_bytes
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


def earlier_generator(cfg: DictConfig, evaluator: Evaluator, n: int, purpose: str) -> tuple[torch.Tensor, dict]:
    """n images of the fixed earlier generator (see module docstring) and where they came from.

    `purpose` names an independent stream of its samples: the pool's contaminating images and the audit's
    known-synthetic training images are different draws of the same generator (trained once, then cached).
    """
    data = evaluator.dataset
    seed = check_seed(cfg.data.get("contamination_seed", 0))
    source = cfg.data.get("contamination_source")
    if source is not None:
        images = load_images(source, data.image_shape, "data.contamination_source")
        if len(images) < n:
            raise BenchError(
                f"data.contamination_source {source} holds {len(images)} images; {n} are needed "
                f"(data.contamination x the pool of {len(data.train_images)})"
            )
        # different purposes take different images of the file, in a fixed order
        order = torch.randperm(len(images), generator=generator(seed, "contamination_file", purpose))
        images = images[order[:n]]
        return images, {"source": str(source), "sha256": arrays_checksum(images)}
    return _trained_generator_images(cfg, evaluator, n, purpose, seed)


def _generator_key(cfg: DictConfig, evaluator: Evaluator, seed: int) -> tuple[str, dict]:
    """What decides the trained earlier generator, and only that: the data (by checksum), its D_0 size and seed,
    the classifier that labels D_0 for a conditional model, the model, its sampling settings and the trainer keys
    that change training."""
    data = evaluator.dataset
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(trainer, dict)
    spec = {
        "data_checksum": data.checksum,
        "n_train": check_positive("data.n_train", cfg.data.n_train),
        "contamination_seed": seed,
        "classifier": evaluator.classifier.sha256 if evaluator.classifier is not None else None,
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "sampling": OmegaConf.to_container(cfg.get("sampling") or {}, resolve=True),
        "trainer": {k: v for k, v in trainer.items() if k not in _NOT_TRAINING_KEYS},
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest(), spec


def _trained_generator_images(
    cfg: DictConfig, evaluator: Evaluator, n: int, purpose: str, seed: int
) -> tuple[torch.Tensor, dict]:
    from bench.models.factory import build_model, sampling_settings

    data = evaluator.dataset
    key, spec = _generator_key(cfg, evaluator, seed)
    folder = Path(cfg.cache_dir) / "contamination"
    stem = f"{cfg.model.name}-gen0-{key[:16]}"
    model_path = folder / f"{stem}.pt"
    samples_path = folder / f"{stem}-{purpose}-{n}.npy"
    info = {
        "source": f"generation 0 of model={cfg.model.name}, contamination_seed={seed}",
        "cache_file": str(samples_path),
    }
    if samples_path.is_file():
        images = load_images(samples_path, data.image_shape, "cached earlier-generator images")
        return images, {**info, "sha256": arrays_checksum(images)}

    # built and trained like a run's generation 0 (bench.run): the model config, what the data injects, labels
    model = build_model(cfg.model, **evaluator.model_info)
    if model_path.is_file():
        model.load_state_dict(load_checkpoint(model_path))
    else:
        _train(cfg, evaluator, model, seed)
        write_bytes(model_path, torch_bytes({k: v.detach().cpu() for k, v in model.state_dict().items()}))
        write_bytes(folder / f"{stem}.json", json.dumps(spec, indent=1, default=str).encode())
    images = model.sample(n, generator=generator(seed, "contaminator", purpose), **sampling_settings(cfg)).cpu()
    write_bytes(samples_path, npy_bytes(images.numpy()))
    return images, {**info, "sha256": arrays_checksum(images)}


def _train(cfg: DictConfig, evaluator: Evaluator, model, seed: int) -> None:
    """Generation 0 of the run's model on a D_0 drawn from the clean pool with `seed`."""
    from bench.train import fit

    data = evaluator.dataset
    n_train = min(check_positive("data.n_train", cfg.data.n_train), len(data.train_images))
    index = torch.randperm(len(data.train_images), generator=generator(seed, "contaminator", "initial"))[:n_train]
    images = data.train_images[index]
    log.info(f"training the earlier generator (model={cfg.model.name}, {n_train} real images) for contamination")
    torch.manual_seed(derive_seed(seed, "contaminator", "init"))
    with tempfile.TemporaryDirectory() as logs:
        fit(
            model,
            images,
            labels=evaluator.training_labels(model, images),
            trainer_cfg=cfg.trainer,
            seed=derive_seed(seed, "contaminator", "train"),
            log_dir=logs,
        )
    model.cpu()


def contaminate(cfg: DictConfig, evaluator: Evaluator) -> tuple[torch.Tensor, torch.Tensor, dict | None]:
    """The train pool the loop draws from (contaminated as configured), a mask of the replaced positions, and what
    results.json records about it (None when data.contamination is 0). The data set itself, its checksum and its
    test set stay clean: scoring and the feature extractor's fit are unchanged."""
    share = check_share(cfg.data.get("contamination", 0.0))
    pool = evaluator.dataset.train_images
    mask = torch.zeros(len(pool), dtype=torch.bool)
    n_replaced = round(share * len(pool))
    if n_replaced == 0:
        return pool, mask, None
    seed = check_seed(cfg.data.get("contamination_seed", 0))
    positions = torch.randperm(len(pool), generator=generator(seed, "contamination", "positions"))[:n_replaced]
    images, source = earlier_generator(cfg, evaluator, n_replaced, "pool")
    pool = pool.clone()
    pool[positions] = images.to(pool.dtype)
    mask[positions] = True
    info = {"share": share, "n_replaced": n_replaced, "n_pool": len(pool), "seed": seed, **source}
    return pool, mask, info
