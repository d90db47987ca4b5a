"""What the diffusion-family models (ddpm, flow, ldm) share: their UNet, its EMA, and class-conditional sampling.

Each model keeps its own objective and sampler; these are the parts where a difference between them would be a
bug rather than a design choice (the same UNet for the same config, the same EMA warm-up, the same class draw).
"""

from __future__ import annotations

import contextlib
import math

import torch
from diffusers import UNet2DModel
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel

from bench.errors import BenchError
from bench.models.precision import sampling_precision

CLASS_BALANCES = ("train", "real", "uniform")
LR_SCHEDULES = ("constant", "cosine")
PRECISIONS = ("fp32", "bf16", "auto")  # auto: bf16 where the device has native bf16 (bench.models.precision)


def check_channels(channels, norm_num_groups: int) -> tuple[int, ...]:
    channels = tuple(int(c) for c in channels)
    if not channels or any(c <= 0 or c % norm_num_groups for c in channels):
        raise BenchError(
            f"model.channels={list(channels)} must be positive multiples of model.norm_num_groups={norm_num_groups}"
        )
    return channels


def padding(shape: tuple[int, int, int], levels: int) -> tuple[int, int, int, int]:
    """F.pad widths that bring (C, H, W) up to a multiple of 2**(levels - 1): the UNet halves the size that often."""
    _, h, w = shape
    f = 2 ** (levels - 1)
    return (0, math.ceil(w / f) * f - w, 0, math.ceil(h / f) * f - h)


def build_unet(
    shape: tuple[int, int, int],
    pad: tuple[int, int, int, int],
    *,
    channels: tuple[int, ...],
    layers_per_block: int,
    attention: bool,
    norm_num_groups: int,
    num_classes: int | None,
) -> UNet2DModel:
    """diffusers' UNet2DModel for (C, H, W) inputs padded by `pad`; with classes, one extra "no label" embedding
    (the last index), which classifier-free guidance compares with."""
    c, h, w = shape
    down = ["DownBlock2D"] * len(channels)
    up = ["UpBlock2D"] * len(channels)
    if attention:  # self-attention at the lowest resolution only: cheap, and where global structure lives
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=(h + pad[3], w + pad[1]),
        in_channels=c,
        out_channels=c,
        block_out_channels=channels,
        layers_per_block=layers_per_block,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=norm_num_groups,
        num_class_embeds=num_classes + 1 if num_classes else None,
    )


def start_ema(module: torch.nn.Module, *, decay: float, power: float, device) -> EMAModel | None:
    """diffusers' EMAModel with its warm-up (decay 1 - (1 + step)^-power, capped at `decay`); None when decay is 0.

    Chosen over Lightning's WeightAveraging callback because that one averages with a fixed decay from step 0: on a
    CPU run of a thousand steps a 0.999 average still remembers the random initialisation.
    """
    if not decay:
        return None
    ema = EMAModel(
        module.parameters(),
        decay=decay,
        use_ema_warmup=True,
        power=power,
        foreach=True,  # one fused update instead of a kernel per tensor: per-step overhead set the GPU's pace
    )
    ema.to(device)
    return ema


def check_lr_schedule(schedule: str) -> str:
    if schedule not in LR_SCHEDULES:
        raise BenchError(f"model.lr_schedule={schedule!r} is not known; allowed: {', '.join(LR_SCHEDULES)}")
    return schedule


def configure_optimizers(module) -> dict:
    """A diffusion model's Lightning configure_optimizers: its UNet's AdamW and schedule from its hparams
    (lr, warmup_steps, lr_schedule) and the trainer's max_steps, where the cosine decay ends."""
    return optimizer(
        module.unet.parameters(),
        lr=module.hparams.lr,
        warmup_steps=module.hparams.warmup_steps,
        schedule=module.hparams.lr_schedule,
        total_steps=module.trainer.max_steps,
    )


def optimizer(params, *, lr: float, warmup_steps: int, schedule: str, total_steps: int) -> dict:
    """AdamW with a linear warm-up over `warmup_steps`, then a constant learning rate (`constant`) or diffusers'
    cosine decay to 0 at `total_steps` (`cosine`: the last steps take small steps, so where training ends depends
    less on the noise of its last batches). Lightning's configure_optimizers dict, stepped every optimizer step."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warmup = max(1, int(warmup_steps))
    if schedule == "cosine":
        if total_steps <= 0:
            raise BenchError(f"model.lr_schedule=cosine needs trainer.max_steps > 0 (got {total_steps})")
        sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=warmup, num_training_steps=int(total_steps))
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def label_probs(source: str, *, num_classes: int, class_shares, label_counts: torch.Tensor) -> torch.Tensor:
    """The class distribution of conditional samples: `train` (as in D_t: shrinking classes stay shrunk), `real`
    (the real data's shares) or `uniform`; uniform too for a model that has recorded no labels yet."""
    if source == "real" and class_shares is not None:
        probs = torch.tensor(class_shares, dtype=torch.float64)
    elif source == "train" and label_counts.sum() > 0:
        probs = label_counts.double().cpu()
    else:
        probs = torch.ones(num_classes, dtype=torch.float64)
    return probs / probs.sum()


def autocast(precision: str, device: torch.device):
    """bf16 autocast of the network calls when `precision` is bf16, or auto on a device with native bf16
    (bench.models.precision: 2.5x the images/s of fp32 on such a CPU, 16x slower on a CPU that emulates it)."""
    if sampling_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def check_guidance(w, *, conditional: bool) -> float:
    if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
        raise BenchError(f"sampling.guidance={w!r} must be a number >= 0 (0: no guidance)")
    if w and not conditional:
        raise BenchError(f"sampling.guidance={w} needs a class-conditional model (model.conditional=true)")
    return float(w)


def check_t_min(value, *, sampler: str, allowed_samplers: tuple[str, ...], steps: int) -> float | None:
    """`sampling.t_min`: the smallest diffusion time the sampler evaluates the network at, as a share of the time
    scale (null: the scheduler's own schedule). The sample is the denoised estimate from there: the truncation of
    the reverse process that a 2026 analysis (arXiv 2606.13796) finds acts as a low-pass filter and drives collapse."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise BenchError(f"sampling.t_min={value!r} must be null or a number in [0, 1)")
    if sampler not in allowed_samplers:
        raise BenchError(
            f"sampling.t_min={value} needs sampling.sampler={' or '.join(allowed_samplers)} (a schedule of chosen "
            f"times), not {sampler}"
        )
    if steps < 2:  # one step evaluates the top time only: t_min would be ignored
        raise BenchError(
            f"sampling.t_min={value} needs sampling.steps >= 2 (one step never reaches t_min), got {steps}"
        )
    return float(value)


def check_choices(s: dict, choices: dict[str, tuple[str, ...]]) -> None:
    for key, allowed in choices.items():
        if s[key] not in allowed:
            raise BenchError(f"sampling.{key}={s[key]!r} is not known; allowed: {', '.join(allowed)}")


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats to uint8 images on the CPU."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
