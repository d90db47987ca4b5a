"""Build an object from a config node: `_target_` names the class or function, the other keys are its arguments.

Like hydra.utils.instantiate, but the target's own exceptions (our one-line BenchErrors) reach the
user unwrapped, and `name` (the registry key that names run folders) is not passed on.
"""

from __future__ import annotations

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from bench.errors import BenchError


def build(node, *, exclude: tuple[str, ...] = (), keep_name: bool = False, what: str = "", **injected):
    """`node`: a config node or a plain mapping. `exclude`: keys read by the loop itself (e.g. data.n_train), not
    arguments of the target. `keep_name`: pass `name` on (a loader that takes it, e.g. an extractor's). `what`
    names the kind of node in errors ("extractor")."""
    raw = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    assert isinstance(raw, dict), f"a config node to build is a mapping, got {type(raw).__name__}"
    kwargs = {str(k): v for k, v in raw.items() if k not in exclude}
    target = kwargs.pop("_target_", None)
    if not keep_name:
        kwargs.pop("name", None)
    prefix = f"{what} " if what else ""
    if target is None:
        where = repr(node._key()) if isinstance(node, DictConfig) else str(kwargs)
        raise BenchError(f"{prefix}config node {where} has no _target_")
    try:
        fn = get_method(str(target))
    except Exception:
        raise BenchError(f"{prefix}_target_ {target!r} cannot be imported") from None
    return fn(**kwargs, **injected)
