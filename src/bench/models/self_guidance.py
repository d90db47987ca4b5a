"""Negative guidance from a self-consumed model (SIMS: Alemohammad et al. 2024, "Self-Improving Diffusion Models with
Synthetic Data"), for the diffusion and flow models.

The auxiliary model is the generation's own model fine-tuned on its own samples (the engine does that:
`bench.engine.self_guidance`); sampling with `sampling.negative_guidance=w` then steers away from it:

    prediction = (1 + w) * base(x, t) - w * auxiliary(x, t)

for the noise (DDPM) or the velocity (flow, latent flow). The auxiliary's UNet is a submodule of the model
(`auxiliary_unet`), so it is saved in the generation's checkpoint and `bench.resample` can draw with other w.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from bench.errors import BenchError

AUXILIARY = "auxiliary_unet"


def check_negative_guidance(w: Any, *, guidance: float) -> float:
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < math.inf:
        raise BenchError(f"sampling.negative_guidance={w!r} must be a finite number >= 0 (0: none)")
    if w and guidance:
        raise BenchError(
            f"sampling.negative_guidance={w} with sampling.guidance={guidance}: combine one guidance at a time"
        )
    return float(w)


class SelfGuided:
    """Mixin for a LightningModule whose network is `self.unet` (called as unet(x, t, class_labels=...).sample)."""

    unet: torch.nn.Module

    @property
    def auxiliary(self) -> torch.nn.Module | None:
        return getattr(self, AUXILIARY, None)

    def set_auxiliary(self, unet: torch.nn.Module) -> None:
        """Keep `unet` (the fine-tuned copy's network) as the auxiliary; frozen, and saved with the model."""
        unet.requires_grad_(False)
        unet.eval()
        self.add_module(AUXILIARY, unet)  # type: ignore[attr-defined]

    def auxiliary_copy(self):
        """A copy of this trained model to fine-tune into the auxiliary: without the Trainer it was fitted by or an
        earlier auxiliary."""
        trainer = self.__dict__.get("_trainer")
        self.__dict__["_trainer"] = None
        try:
            twin = copy.deepcopy(self)
        finally:
            self.__dict__["_trainer"] = trainer
        if twin.auxiliary is not None:
            delattr(twin, AUXILIARY)
        return twin

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # a checkpoint saved with an auxiliary: make room for it (a copy of the UNet's structure) before loading
        if self.auxiliary is None and any(k.startswith(f"{AUXILIARY}.") for k in state_dict):
            self.set_auxiliary(copy.deepcopy(self.unet))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)  # type: ignore[misc]

    def check_auxiliary(self, s: dict, n: int) -> None:
        if n > 0 and s["negative_guidance"] and self.auxiliary is None:
            raise BenchError(
                f"sampling.negative_guidance={s['negative_guidance']} needs the generation's auxiliary model, which "
                "the run trains when it samples with negative guidance; this model has none"
            )

    def steer(self, pred: torch.Tensor, x: torch.Tensor, t, labels, s: dict) -> torch.Tensor:
        """(1 + w) base - w auxiliary, for w = sampling.negative_guidance (the base prediction as is for w = 0)."""
        w = s["negative_guidance"]
        if not w:
            return pred
        assert self.auxiliary is not None, "check_auxiliary ran first"
        aux = self.auxiliary(x, t, class_labels=labels).sample.float()
        return (1.0 + w) * pred - w * aux
