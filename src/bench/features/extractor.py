"""Feature extractors: a frozen network whose penultimate layer is the feature space and whose argmax is the class.

Every extractor declares what it fits: the image shape it takes (`input_shape`, None for any size: the
standard extractors resize), its feature size, its class count (None: features only) and the checksum of
the data it was trained on (`trained_on`; None for a general-purpose network such as Inception). Scoring
refuses, in one line, an extractor that does not fit the data set (`check_fits`).

Trained reference classifiers are files `<name>.pt` (a state_dict, loaded with weights_only=True) beside
`<name>.json` (sha256 of the .pt bytes, accuracy, the data checksum, the network and its sizes), written
by `scripts/train_reference.py --data NAME`; the MNIST and digits ones ship in `bench/assets/`.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import BenchError
from bench.features.mnist_classifier import INPUT_SHAPE, MnistClassifier
from bench.features.networks import SmallCNN
from bench.io.strict_json import read_strict_json

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# the network classes a metadata file may name (never an import path read from a file)
NETWORKS: dict[str, type[torch.nn.Module]] = {"MnistClassifier": MnistClassifier, "SmallCNN": SmallCNN}
METADATA_KEYS = (
    "name",
    "sha256",
    "test_accuracy",
    "feature_dim",
    "train_command",
    "seed",
    "epochs",
    "torch_version",
    "trained_on",
)
TRAIN_HINT = "train it with `python scripts/train_reference.py --data NAME` (README: Data)"


@dataclass(frozen=True)
class Extraction:
    """Everything one pass computes: features (N, D) float32, logits (N, K) float32, labels (N,) int64.

    logits and labels are None for an extractor without classes."""

    features: torch.Tensor
    logits: torch.Tensor | None
    labels: torch.Tensor | None


@dataclass(frozen=True, eq=False)
class FeatureExtractor:
    """A frozen network: `model.features_and_logits(uint8 images)` gives the feature space and class logits."""

    name: str
    sha256: str
    feature_dim: int
    num_classes: int | None
    input_shape: tuple[int, int, int] | None
    metadata: dict = field(repr=False)
    model: torch.nn.Module = field(repr=False)
    trained_on: str | None = None  # checksum of the training data (None: a general-purpose network)

    @property
    def info(self) -> dict:
        """What results.json records about the feature space that scored a run."""
        keep = ("test_accuracy", "feature_dim", "trained_on", "data", "weights")
        return {
            "name": self.name,
            "sha256": self.sha256,
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            **{k: v for k, v in self.metadata.items() if k in keep},
        }

    def check_fits(self, data) -> None:
        """One-line BenchError unless this extractor takes the data set's images and was trained on its data."""
        hint = (
            "use the data set's own extractor (data.extractor) or a standard one (metrics.extractor=inception|dinov2)"
        )
        if self.input_shape is not None and tuple(self.input_shape) != tuple(data.image_shape):
            raise BenchError(
                f"feature extractor {self.name} takes images {tuple(self.input_shape)}, but data={data.name} has "
                f"{tuple(data.image_shape)}; {hint}"
            )
        if self.trained_on is not None and self.trained_on not in (data.checksum, data.base_checksum):
            raise BenchError(
                f"feature extractor {self.name} was trained on data {self.trained_on[:12]}…, not on data={data.name} "
                f"(checksum {data.checksum[:12]}…); {hint}"
            )
        if self.num_classes is not None and data.num_classes and self.num_classes != data.num_classes:
            raise BenchError(
                f"feature extractor {self.name} has {self.num_classes} classes, but data={data.name} has "
                f"{data.num_classes}; {hint}"
            )

    def extract(self, images, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor | None]:
        """uint8 images (N, *input_shape) -> (features float32 (N, D), labels int64 (N,) or None)."""
        out = self.extract_all(images, batch_size=batch_size)
        return out.features, out.labels

    def extract_all(self, images, batch_size: int = 2000) -> Extraction:
        """Like `extract`, also returning the logits (for class probabilities)."""
        images = self.check_images(images)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise BenchError(f"batch_size={batch_size!r} must be a positive integer")
        n = images.shape[0]
        # Allocated outside inference mode so callers get ordinary tensors, not inference tensors.
        features = torch.empty(n, self.feature_dim, dtype=torch.float32)
        logits = torch.empty(n, self.num_classes, dtype=torch.float32) if self.num_classes else None
        self.model.eval()
        features_and_logits = self.model.features_and_logits  # every network here has it (checked when built)
        assert callable(features_and_logits), f"{type(self.model).__name__} has no features_and_logits(images)"
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                f, z = features_and_logits(images[i : i + batch_size])
                features[i : i + batch_size] = f
                if logits is not None:
                    logits[i : i + batch_size] = z
        labels = logits.argmax(1) if logits is not None else None
        return Extraction(features=features, logits=logits, labels=labels)

    def check_images(self, images) -> torch.Tensor:
        """Accept a uint8 torch tensor or numpy array of shape (N, *input_shape); else BenchError."""
        shape = ", ".join(map(str, self.input_shape)) if self.input_shape else "C, H, W"
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        if not isinstance(images, torch.Tensor):
            raise BenchError(f"{self.name} needs a uint8 tensor of images (N, {shape}); got {type(images).__name__}")
        if images.ndim != 4 or (self.input_shape is not None and tuple(images.shape[1:]) != self.input_shape):
            raise BenchError(f"{self.name} needs images of shape (N, {shape}); got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            raise BenchError(
                f"{self.name} needs uint8 images in [0, 255]; "
                f"got dtype {str(images.dtype).removeprefix('torch.')} with shape {tuple(images.shape)}"
            )
        return images.cpu()


def shipped() -> list[str]:
    """Names of the reference classifiers shipped in bench/assets/."""
    return sorted(p.stem for p in ASSETS.glob("*.json"))


def load_extractor(
    name: str = "mnist_classifier",
    *,
    weights_path: str | Path | None = None,
    metadata_path: str | Path | None = None,
) -> FeatureExtractor:
    """Load a trained reference classifier; the weights file's sha256 must match its metadata JSON.

    `weights_path` / `metadata_path` default to `bench/assets/<name>.pt` / `<name>.json`; passing
    only `weights_path` checks that file against the metadata beside it (`<weights>.json`) or the shipped one.
    """
    if not isinstance(name, str) or not name:
        raise BenchError(f"feature extractor name {name!r} must be a non-empty string")
    weights_path = Path(weights_path) if weights_path is not None else ASSETS / f"{name}.pt"
    if metadata_path is None:
        beside = weights_path.with_suffix(".json")
        metadata_path = beside if beside.is_file() else ASSETS / f"{name}.json"
    metadata_path = Path(metadata_path)
    if not metadata_path.is_file() and weights_path.is_file() and weights_path.parent != ASSETS:
        raise BenchError(
            f"feature extractor weights {weights_path} have no metadata beside them "
            f"({weights_path.with_suffix('.json')}, written with the weights by scripts/train_reference.py)"
        )
    if not metadata_path.is_file() and not weights_path.is_file() and metadata_path.parent == ASSETS:
        raise BenchError(
            f"feature extractor {name!r} is not shipped (shipped: {', '.join(shipped())}); train one with "
            "`python scripts/train_reference.py --data NAME` and set data.extractor.weights_path to its .pt"
        )
    meta = _read_metadata(metadata_path, name)

    try:
        raw = weights_path.read_bytes()
    except OSError as e:
        raise BenchError(
            f"feature extractor weights {weights_path} cannot be read ({e.strerror or type(e).__name__}); "
            f"reinstall bench, or {TRAIN_HINT}"
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != meta["sha256"]:
        raise BenchError(
            f"feature extractor weights {weights_path} have sha256 {digest[:16]}..., "
            f"expected {meta['sha256'][:16]}... from {metadata_path.name}: the file is damaged or not the shipped one"
        )

    try:
        # the bytes just hashed, not a second read of the file (which could differ from them)
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as e:  # damaged zip, pickle refused by weights_only, ...
        raise BenchError(
            f"feature extractor weights {weights_path} cannot be loaded ({type(e).__name__}); reinstall bench"
        ) from None
    model = _network(meta, metadata_path)
    if not isinstance(state, dict):
        raise BenchError(f"feature extractor weights {weights_path} hold a {type(state).__name__}, not a state_dict")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BenchError(
            f"feature extractor weights {weights_path} do not fit {model.__class__.__name__} ({first})"
        ) from None
    return frozen(
        name=name,
        sha256=digest,
        model=model,
        feature_dim=int(meta["feature_dim"]),
        num_classes=int(meta.get("num_classes", 10)),
        input_shape=tuple(meta.get("input_shape", INPUT_SHAPE)),
        trained_on=meta["trained_on"],
        metadata={**meta, "weights": str(weights_path)},
    )


def frozen(*, model: torch.nn.Module, **fields: Any) -> FeatureExtractor:
    """A FeatureExtractor around `model` in eval mode with gradients off."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return FeatureExtractor(model=model, **fields)


def _network(meta: dict, path: Path) -> torch.nn.Module:
    kind = meta.get("network", "MnistClassifier")
    if kind not in NETWORKS:
        raise BenchError(f"feature extractor metadata {path} names network {kind!r}; allowed: {', '.join(NETWORKS)}")
    kwargs = dict(meta.get("network_kwargs", {}))
    kwargs.setdefault("feature_dim", int(meta["feature_dim"]))
    try:
        return NETWORKS[kind](**kwargs)
    except TypeError as e:
        raise BenchError(
            f"feature extractor metadata {path} has network_kwargs that {kind} does not take ({e})"
        ) from None


def _read_metadata(path: Path, name: str) -> dict:
    try:
        meta = read_strict_json(path)  # the one JSON reader: no NaN, no 1e999, one line naming the file
    except BenchError as e:
        raise BenchError(f"feature extractor metadata {e}; reinstall bench") from None
    if not isinstance(meta, dict):
        raise BenchError(f"feature extractor metadata {path} is not a JSON object")
    missing = [k for k in METADATA_KEYS if k not in meta]
    if missing:
        raise BenchError(f"feature extractor metadata {path} lacks {', '.join(missing)}")
    if meta["name"] != name:
        raise BenchError(f"feature extractor metadata {path} describes {meta['name']!r}, not {name!r}")
    return meta
