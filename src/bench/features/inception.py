"""`metrics.extractor=inception`: FID as papers report it, in the 2048-d pool features of the TF-ported Inception-v3.

The network and its input handling (bilinear resize to 299 x 299 exactly as TensorFlow 1 did it,
(x - 128) / 128) are torch-fidelity's `FeatureExtractorInceptionV3`, the one torchmetrics' FID also
wraps. Neither wheel carries the weights (torch-fidelity downloads `weights-inception-2015-12-05-6726825d.pth`
on first use), so offline they must be a local file: `metrics.extractor_weights=PATH`, or the file in
torch hub's cache (`<torch.hub.get_dir()>/checkpoints/`, where torch-fidelity's own download puts it).
The file is read with weights_only=True; grey images are repeated to 3 channels. No classes: mode
metrics come from the data set's own classifier.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from torch import nn

from bench.errors import BenchError
from bench.features.extractor import FeatureExtractor, frozen

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048


class InceptionFeatures(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[1] != 3:
            raise BenchError(f"inception takes grey or RGB images; got {x.shape[1]} channels")
        (features,) = self.net(x.contiguous())
        return features, None


def default_weights() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def load_inception(*, weights_path: str | Path | None = None) -> FeatureExtractor:
    path = Path(weights_path) if weights_path else default_weights()
    if not path.is_file():
        raise BenchError(
            f"metrics.extractor=inception needs torch-fidelity's Inception-v3 weights ({WEIGHTS_FILE}), not found at "
            f"{path}; copy the file from a machine where torch-fidelity or torchmetrics' FID has downloaded it and "
            "set metrics.extractor_weights=PATH (or put it in torch hub's checkpoints folder)"
        )
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise BenchError(
            "metrics.extractor=inception needs the package torch-fidelity (pip install torch-fidelity)"
        ) from None
    raw = path.read_bytes()
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as e:
        raise BenchError(
            f"inception weights {path} cannot be loaded ({type(e).__name__}); it holds no plain state_dict"
        ) from None
    # torch-fidelity unpickles its weights file with weights_only=False: hand it only what was just loaded safely
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    try:
        net = FeatureExtractorInceptionV3("inception-v3-compat", [str(FEATURE_DIM)], feature_extractor_weights_path=buf)
    except (RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BenchError(f"inception weights {path} do not fit torch-fidelity's Inception-v3 ({first})") from None
    return frozen(
        name="inception",
        sha256=hashlib.sha256(raw).hexdigest(),
        model=InceptionFeatures(net),
        feature_dim=FEATURE_DIM,
        num_classes=None,
        input_shape=None,
        trained_on=None,
        metadata={
            "feature_dim": FEATURE_DIM,
            "data": "ImageNet (Inception-v3, TF 2015-12-05 release, torch-fidelity port)",
            "weights": str(path),
        },
    )
