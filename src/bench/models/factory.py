"""Build the model of a config for a data set: what the data decides is injected, never written in YAML.

Every model gets `image_shape`; a model whose constructor also names `num_classes` or `class_shares`
(the reference classifier's class count and the real class proportions) gets those too. The built
model is checked against the contract (`bench.models.base.check_model`) before anything trains.
"""

from __future__ import annotations

import inspect
from typing import Any

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from bench.build import build
from bench.models.base import check_model

OPTIONAL_INJECTIONS = ("num_classes", "class_shares")


def build_model(
    model_cfg: DictConfig,
    *,
    image_shape: tuple[int, ...],
    num_classes: int | None = None,
    class_shares: list[float] | None = None,
):
    injected: dict[str, Any] = {"image_shape": tuple(image_shape)}
    target = str(model_cfg.get("_target_"))
    try:
        params = inspect.signature(get_method(target)).parameters
    except Exception:  # build() reports an unimportable target in one line
        params = {}
    for key, value in (("num_classes", num_classes), ("class_shares", class_shares)):
        if key in params:
            injected[key] = value
    model = build(model_cfg, **injected)
    check_model(model, target)
    return model


def sampling_settings(cfg: DictConfig) -> dict[str, Any]:
    """The config node `sampling` as plain keyword arguments for `model.sample` ({} when a config has none)."""
    node = cfg.get("sampling")
    return dict(OmegaConf.to_container(node, resolve=True)) if node is not None else {}
