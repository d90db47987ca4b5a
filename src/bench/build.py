"""Build an object from a config node: `_target_` names the class or function, the other keys are its arguments.

Like hydra.utils.instantiate, but the target's own exceptions (our one-line BenchErrors) reach the
user unwrapped, and `name` (the registry key that names run folders) is not passed on.
"""

from __future__ import annotations

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from bench.errors import BenchError


def build(node: DictConfig, *, exclude: tuple[str, ...] = (), **injected):
    """`exclude`: keys read by the loop itself (e.g. data.n_train), not arguments of the target."""
    kwargs = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in exclude}
    target = kwargs.pop("_target_", None)
    kwargs.pop("name", None)
    if target is None:
        raise BenchError(f"config node {node._key()!r} has no _target_")
    try:
        fn = get_method(target)
    except Exception:
        raise BenchError(f"_target_ {target!r} cannot be imported") from None
    return fn(**kwargs, **injected)
