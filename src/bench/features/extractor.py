"""Load the shipped reference classifier (sha256-checked) and extract features and class labels."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError
from bench.features.mnist_classifier import INPUT_SHAPE, MnistClassifier

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXTRACTORS = {"mnist_classifier": MnistClassifier}
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


@dataclass(frozen=True)
class Extraction:
    """Everything one pass computes: features (N, D) float32, logits (N, K) float32, labels (N,) int64."""

    features: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True, eq=False)
class FeatureExtractor:
    """A frozen classifier: its penultimate layer is the feature space, its argmax the class label."""

    name: str
    sha256: str
    feature_dim: int
    num_classes: int
    input_shape: tuple[int, int, int]
    metadata: dict = field(repr=False)
    model: torch.nn.Module = field(repr=False)

    def extract(self, images, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (N, 1, 28, 28) -> (features float32 (N, D), labels int64 (N,))."""
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
        logits = torch.empty(n, self.num_classes, dtype=torch.float32)
        self.model.eval()
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                f, z = self.model.features_and_logits(images[i : i + batch_size])
                features[i : i + batch_size] = f
                logits[i : i + batch_size] = z
        return Extraction(features=features, logits=logits, labels=logits.argmax(1))

    def check_images(self, images) -> torch.Tensor:
        """Accept a uint8 torch tensor or numpy array of shape (N, *input_shape); else BenchError."""
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        if not isinstance(images, torch.Tensor):
            raise BenchError(
                f"{self.name} needs a uint8 tensor of images (N, {', '.join(map(str, self.input_shape))}); "
                f"got {type(images).__name__}"
            )
        if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise BenchError(
                f"{self.name} needs images of shape (N, {', '.join(map(str, self.input_shape))}); "
                f"got {tuple(images.shape)}"
            )
        if images.dtype != torch.uint8:
            raise BenchError(
                f"{self.name} needs uint8 images in [0, 255]; "
                f"got dtype {str(images.dtype).removeprefix('torch.')} with shape {tuple(images.shape)}"
            )
        return images.cpu()


def load_extractor(
    name: str = "mnist_classifier", *, weights_path: str | Path | None = None, metadata_path: str | Path | None = None
) -> FeatureExtractor:
    """Load a shipped extractor; the weights file's sha256 must match its metadata JSON.

    `weights_path` / `metadata_path` default to `bench/assets/<name>.pt` / `<name>.json`; passing
    only `weights_path` checks that file against the shipped metadata.
    """
    if name not in EXTRACTORS:
        raise BenchError(f"feature extractor {name!r} is not known; allowed: {', '.join(EXTRACTORS)}")
    weights_path = Path(weights_path) if weights_path is not None else ASSETS / f"{name}.pt"
    metadata_path = Path(metadata_path) if metadata_path is not None else ASSETS / f"{name}.json"
    meta = _read_metadata(metadata_path, name)

    try:
        raw = weights_path.read_bytes()
    except OSError as e:
        raise BenchError(
            f"feature extractor weights {weights_path} cannot be read ({e.strerror or type(e).__name__}); "
            "reinstall bench"
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != meta["sha256"]:
        raise BenchError(
            f"feature extractor weights {weights_path} have sha256 {digest[:16]}..., "
            f"expected {meta['sha256'][:16]}... from {metadata_path.name}: the file is damaged or not the shipped one"
        )

    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as e:  # damaged zip, pickle refused by weights_only, ...
        raise BenchError(
            f"feature extractor weights {weights_path} cannot be loaded ({type(e).__name__}); reinstall bench"
        ) from None
    model = EXTRACTORS[name](feature_dim=int(meta["feature_dim"]))
    if not isinstance(state, dict):
        raise BenchError(f"feature extractor weights {weights_path} hold a {type(state).__name__}, not a state_dict")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BenchError(
            f"feature extractor weights {weights_path} do not fit {model.__class__.__name__} ({first})"
        ) from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return FeatureExtractor(
        name=name,
        sha256=digest,
        feature_dim=int(meta["feature_dim"]),
        num_classes=model.fc2.out_features,
        input_shape=INPUT_SHAPE,
        metadata=meta,
        model=model,
    )


def _read_metadata(path: Path, name: str) -> dict:
    try:
        meta = json.loads(path.read_text())
    except OSError as e:
        raise BenchError(
            f"feature extractor metadata {path} cannot be read ({e.strerror or type(e).__name__}); reinstall bench"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BenchError(
            f"feature extractor metadata {path} is not valid JSON ({type(e).__name__}); reinstall bench"
        ) from None
    if not isinstance(meta, dict):
        raise BenchError(f"feature extractor metadata {path} is not a JSON object")
    missing = [k for k in METADATA_KEYS if k not in meta]
    if missing:
        raise BenchError(f"feature extractor metadata {path} lacks {', '.join(missing)}")
    if meta["name"] != name:
        raise BenchError(f"feature extractor metadata {path} describes {meta['name']!r}, not {name!r}")
    return meta
