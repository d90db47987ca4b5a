"""`precision: auto`: bf16 where the hardware computes it natively, fp32 elsewhere.

bf16 is only fast where the processor has bf16 instructions. Measured with benchmarks/diffusion_step_times.py,
2 threads, one training step of the latent flow's 0.65M UNet at batch 128:

- the 2-core CPU the first presets were tuned on (native bf16): bf16 about 2.5x the images/s of fp32;
- Intel Xeon with avx512_bf16, no AMX: bf16 0.119 s, fp32 0.082 s (bf16 1.45x slower);
- AMD EPYC with AVX2 only (Zen 2/3): bf16 2.0 s, fp32 0.13 s (bf16 16x slower: oneDNN has no bf16 kernels there
  and emulates them), so a bf16 preset that takes 12 minutes a generation elsewhere takes hours.

`auto` asks the library that runs the arithmetic (oneDNN on a CPU, CUDA on a GPU) whether it has native bf16, so
the choice is fixed by the machine, never by a timing, and two runs of one config on one machine agree. What a run
resolved to is recorded in results.json (`environment.bf16_native`), beside the CPU's name.
"""

from __future__ import annotations

import torch


def native_bf16(device_type: str) -> bool:
    """Whether bf16 matmuls and convolutions run on native instructions on this machine's `device_type`."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        try:  # oneDNN's own test: avx512_bf16 or AMX; False where it would emulate bf16 (AVX2-only CPUs)
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a torch built without oneDNN: no fast CPU bf16 either
            return False
    return False


def device_type(accelerator: str) -> str:
    """The device a Trainer with this `trainer.accelerator` trains on: cuda for gpu/cuda (and auto with a GPU)."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def trainer_precision(precision: str, accelerator: str) -> str:
    """Lightning's precision string for `trainer.precision` (auto: bf16-mixed with native bf16, else 32-true)."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if native_bf16(device_type(accelerator)) else "32-true"


def sampling_precision(precision: str, device: torch.device) -> str:
    """`sampling.precision` for sampling on `device` (auto: bf16 with native bf16, else fp32)."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device.type) else "fp32"
