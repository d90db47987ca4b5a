"""`metrics.extractor=dinov2`: the DINOv2 ViT-B/14 CLS embedding (768-d), recommended for ranking modern
generators by Stein et al. 2023 ("Exposing flaws of generative model evaluation metrics", NeurIPS).

The model code is facebookresearch/dinov2's `hubconf.py`, loaded from a local folder with
`torch.hub.load(dir, arch, source="local", pretrained=False)` (`metrics.extractor_hub_dir`; default: torch
hub's cache of that repository, `<torch.hub.get_dir()>/facebookresearch_dinov2_main`), and the weights a
local file (`metrics.extractor_weights`; default `<torch.hub.get_dir()>/checkpoints/dinov2_vitb14_pretrain.pth`,
where torch hub's own download puts it), read with weights_only=True. Nothing is downloaded. Images are
resized to 224 x 224 (bicubic), grey repeated to RGB, normalised with ImageNet's mean and std.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import BenchError
from bench.features.extractor import FeatureExtractor, frozen

ARCH = "dinov2_vitb14"
SIZE = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class DinoFeatures(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = x.float() / 255.0
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bicubic", align_corners=False).clamp(0, 1)
        return self.net((x - self.mean) / self.std).float(), None


def load_dinov2(
    *, weights_path: str | Path | None = None, hub_dir: str | Path | None = None, arch: str = ARCH
) -> FeatureExtractor:
    hub = Path(torch.hub.get_dir())
    code = Path(hub_dir) if hub_dir else hub / "facebookresearch_dinov2_main"
    weights = Path(weights_path) if weights_path else hub / "checkpoints" / f"{arch}_pretrain.pth"
    if not (code / "hubconf.py").is_file():
        raise BenchError(
            f"metrics.extractor=dinov2 needs the DINOv2 model code (a copy of the facebookresearch/dinov2 repository "
            f"with its hubconf.py), not found at {code}; set metrics.extractor_hub_dir=DIR"
        )
    if not weights.is_file():
        raise BenchError(
            f"metrics.extractor=dinov2 needs the weights {weights.name}, not found at {weights}; copy them from a "
            "machine where torch hub has downloaded them and set metrics.extractor_weights=PATH"
        )
    try:
        net = torch.hub.load(str(code), arch, source="local", pretrained=False)
    except Exception as e:
        raise BenchError(f"DINOv2 model {arch!r} cannot be built from {code} ({type(e).__name__}: {e})") from None
    raw = weights.read_bytes()
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BenchError(f"DINOv2 weights {weights} do not load into {arch} ({first})") from None
    model = DinoFeatures(net)
    with torch.inference_mode():
        dim = int(model.features_and_logits(torch.zeros(1, 3, SIZE, SIZE, dtype=torch.uint8))[0].shape[1])
    return frozen(
        name="dinov2",
        sha256=hashlib.sha256(raw).hexdigest(),
        model=model,
        feature_dim=dim,
        num_classes=None,
        input_shape=None,
        trained_on=None,
        metadata={"feature_dim": dim, "data": f"LVD-142M ({arch})", "weights": str(weights)},
    )
