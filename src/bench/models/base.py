"""What the loop needs from a model, and nothing more (docs/contributing.md: adding a model).

A model is a LightningModule built by `bench.models.factory.build_model`: the data's image shape (and, for
constructors that name them, `num_classes` and `class_shares`) is injected, never written in YAML. It trains
on batches `(uint8 images, int64 labels)` and exposes the two methods of `GenerativeModel`. The labels are
the reference classifier's classes of D_t only for a model whose `needs_labels` attribute is true (zeros
otherwise). `check_model` verifies the contract when the model is built, so a model that lacks a method
fails in one line before any training.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from bench.errors import BenchError, Diverged

CONTRACT_DOC = "docs/contributing.md"
SAMPLE_SIGNATURE = "sample(n, *, generator, **sampling)"
DIAGNOSTICS_SIGNATURE = "diagnostics(images)"


@runtime_checkable
class GenerativeModel(Protocol):
    def sample(self, n: int, *, generator: torch.Generator, **sampling: Any) -> torch.Tensor:
        """n uint8 images shaped (n, C, H, W), drawn with `generator` only (same generator, same images).

        `sampling` holds the settings of the config node `sampling` (steps, eta, guidance, temperature, ...):
        a model accepts the ones it knows and rejects any other with `check_sampling`.
        """
        ...

    def diagnostics(self, images: torch.Tensor) -> dict[str, Any]:
        """Training-health numbers on uint8 images, plus a `warnings` list of strings (may be empty).

        The loop records these per generation so a failed training is never read as collapse.
        """
        ...


def _name(model: object) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def check_model(model: object, target: str | None = None) -> None:
    """Raise a one-line BenchError naming what `model` (built from `_target_` `target`) lacks of the contract."""
    who = f"model {target or _name(model)}"
    sample = getattr(model, "sample", None)
    if not callable(sample):
        raise BenchError(f"{who} lacks {SAMPLE_SIGNATURE}; see {CONTRACT_DOC}")
    try:
        params = inspect.signature(sample).parameters
    except (TypeError, ValueError):  # a builtin or C extension: cannot inspect, trust it
        params = None
    if params is not None:
        accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        gen = params.get("generator")
        if not accepts_kwargs and (gen is None or gen.kind is inspect.Parameter.POSITIONAL_ONLY):
            raise BenchError(f"{who}.sample has no generator keyword; expected {SAMPLE_SIGNATURE}; see {CONTRACT_DOC}")
    if not callable(getattr(model, "diagnostics", None)):
        raise BenchError(f"{who} lacks {DIAGNOSTICS_SIGNATURE} -> dict with a warnings list; see {CONTRACT_DOC}")


def check_sampling(model_name: str, sampling: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """The sampling settings a model accepts; an unknown key stops in one line naming it and the allowed ones."""
    allowed = sorted(allowed)
    unknown = sorted(set(sampling) - set(allowed))
    if unknown:
        raise BenchError(
            f"sampling.{unknown[0]} is not a setting of model {model_name}; allowed: {', '.join(allowed) or 'none'}"
        )
    return dict(sampling)


def check_diagnostics(model_name: str, diagnostics: object) -> dict[str, Any]:
    """What `diagnostics()` must return: a dict with a `warnings` list of strings."""
    if not isinstance(diagnostics, dict):
        raise BenchError(f"model {model_name}.diagnostics returned {type(diagnostics).__name__}, not a dict")
    warnings = diagnostics.get("warnings")
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise BenchError(f"model {model_name}.diagnostics must return a 'warnings' list of strings")
    return diagnostics


def finite_samples(x: torch.Tensor) -> torch.Tensor:
    """`x`, a model's samples before they become uint8 (where a NaN turns silently into 0); raises Diverged if any
    value is not finite, so a model with NaN weights never commits images made of them."""
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise Diverged(f"while sampling: {bad} of {x.numel()} sample values are not finite")
    return x
