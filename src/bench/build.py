"""Build an object from a config node: `_target_` names the class or function, the other keys are its arguments.

Like hydra.utils.instantiate, but the target's own exceptions (our one-line BenchErrors) reach the
user unwrapped, and `name` (the registry key that names run folders) is not passed on.

The trust boundary. A config the user composed (`python -m bench ...`) is trusted: its `_target_`s are code the
user chose. A config read back from a run folder (results.json, by `bench.cli.resample`) is data: it may come from
anyone, and a `_target_` such as `subprocess.run` would run a command. Code that rebuilds parts from a stored
config does so inside `only_registered_targets()`: there `build` imports nothing but the targets the
benchmark's own config registry names (`registered_targets()`, every `_target_` under conf/) and those the
user names on the command line (`--allow-target mypkg.Model`, the way `trust_remote_code=True` works in the
Hugging Face libraries). `check_config_targets` checks a whole stored config the same way before anything is
built or imported.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import yaml
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from bench.errors import BenchError

# None: every target may be imported (a config the user composed); a set: only these (a stored config)
_ALLOWED: ContextVar[frozenset[str] | None] = ContextVar("bench_allowed_targets", default=None)


@functools.cache
def registered_targets() -> frozenset[str]:
    """Every `_target_` the benchmark's own config registry (bench/conf/**.yaml) names (its models, data sets,
    loops, extractors, the trainer's default logger and the sweep callback) and the loaders of the standard
    feature spaces that `metrics.extractor=inception|dinov2` builds by name."""
    from bench.config import CONF_DIR

    found: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "_target_" and isinstance(v, str):
                    found.add(v)
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    for path in sorted(CONF_DIR.rglob("*.yaml")):
        collect(yaml.safe_load(path.read_text()))
    from bench.config import STANDARD_EXTRACTORS  # the standard feature spaces, chosen by name (metrics.extractor)

    return frozenset(found | set(STANDARD_EXTRACTORS.values()))


@contextmanager
def only_registered_targets(allow: Iterable[str] = ()) -> Iterator[frozenset[str]]:
    """Within the block, `build` imports only registered_targets() and the targets in `allow` (named by the user)."""
    allowed = registered_targets() | frozenset(allow)
    token = _ALLOWED.set(allowed)
    try:
        yield allowed
    finally:
        _ALLOWED.reset(token)


def _refusal(target: Any, where: str) -> BenchError:
    if not isinstance(target, str):
        text = json.dumps(target, default=str)
        shown = text if len(text) <= 60 else text[:57] + "..."
        return BenchError(f"{where}_target_ {shown} is not the name of a class or function")
    shown = target if len(target) <= 200 else target[:60] + f"... ({len(target)} characters)"
    return BenchError(
        f"{where}_target_ {shown!r} is not one of the benchmark's own targets: a stored config is data, not code; "
        f"if you trust this run folder's code, pass --allow-target {shown}"
    )


def check_target(target: Any, *, where: str = "") -> None:
    """Refuse `target` in one line unless it may be imported here (always, outside only_registered_targets)."""
    allowed = _ALLOWED.get()
    if allowed is not None and (not isinstance(target, str) or target not in allowed):
        raise _refusal(target, where)


def check_config_targets(config: Any, allow: Iterable[str] = (), *, path: str = "config") -> None:
    """Refuse the first `_target_` anywhere in `config` (a stored config, nested nodes and lists included) that is
    neither registered nor in `allow`; nothing is imported."""
    allowed = registered_targets() | frozenset(allow)
    if isinstance(config, Mapping):
        for k, v in config.items():
            if k == "_target_" and (not isinstance(v, str) or v not in allowed):
                raise _refusal(v, f"{path}.")
            check_config_targets(v, allow, path=f"{path}.{k}")
    elif isinstance(config, list):
        for i, v in enumerate(config):
            check_config_targets(v, allow, path=f"{path}[{i}]")


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
    check_target(target, where=prefix)  # before the import: importing a module runs its code
    try:
        fn = get_method(str(target))
    except Exception:
        raise BenchError(f"{prefix}_target_ {target!r} cannot be imported") from None
    return fn(**kwargs, **injected)
