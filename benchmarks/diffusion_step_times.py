"""Seconds a training step and a sampling call take for the latent flow's parts, per UNet width, on this machine.

    python benchmarks/diffusion_step_times.py [--threads 2] [--precision bf16 fp32] [--channels 64,128 32,64]

Times one Adam step at batch 128 (the presets' batch) of the latent flow's UNet on 4 x 8 x 8 latents, one forward
call at batch 500 (sampling's batch: a sampling step), and one step of the autoencoder on 28 x 28 images; the median
of 10 after 2 warm-up steps. A generation's seconds are about: autoencoder steps x its step (generation 0, or every
generation with `model.autoencoder=retrain`) + trainer.max_steps x the UNet's step + 8 x sampling.steps x the forward
call (4,000 images). The random inputs cost what real ones do: the arithmetic does not depend on the values. Not a
test: the figures depend on the CPU and on what else runs. bf16 was 2.5x faster than fp32 on one 2-core CPU, 1.45x
slower on an Intel Xeon without AMX and 16x slower on an AVX2-only AMD EPYC that emulates it; `auto` (the presets'
precision) is what bench.models.precision picks on this machine, printed on the first line.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.models import unet_parts
from bench.models.ldm import LatentFlow
from bench.models.precision import native_bf16, sampling_precision


def median_seconds(step, repeats: int = 10, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def unet_times(channels: tuple[int, ...], precision: str) -> tuple[int, float, float]:
    model = LatentFlow(image_shape=(1, 28, 28), channels=channels)
    opt = torch.optim.AdamW(model.unet.parameters(), lr=1e-4)
    latents = torch.randn(128, *model.space)
    noise = torch.randn(500, *model.space)

    def train_step():
        with unet_parts.autocast(precision, torch.device("cpu")):
            loss = model.flow_loss(latents, None)[0].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.inference_mode()
    def sample_call():
        with unet_parts.autocast(precision, torch.device("cpu")):
            model.unet(noise, torch.tensor(500.0), class_labels=None)

    n = sum(p.numel() for p in model.unet.parameters())
    return n, median_seconds(train_step), median_seconds(sample_call, repeats=5)


def autoencoder_time(precision: str) -> float:
    model = LatentFlow(image_shape=(1, 28, 28))
    opt = torch.optim.Adam(model.vae.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (128, 1, 28, 28), dtype=torch.uint8)

    def step():
        with unet_parts.autocast(precision, torch.device("cpu")):
            loss, _ = model.autoencoder_loss(images)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return median_seconds(step)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=list(unet_parts.PRECISIONS))
    p.add_argument("--channels", nargs="+", default=["64,128", "32,64"], help="UNet widths, e.g. 64,128")
    args = p.parse_args(argv)
    torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    auto = sampling_precision("auto", torch.device("cpu"))
    print(f"{args.threads} threads; native bf16: {native_bf16('cpu')} (auto takes {auto}); seconds (median of 10)")
    print("| part | precision | parameters | training step, batch 128 | forward at batch 500 |\n|---|---|---|---|---|")
    for precision in args.precision:
        for spec in args.channels:
            channels = tuple(int(c) for c in spec.split(","))
            n, train, forward = unet_times(channels, precision)
            print(f"| latent UNet {spec} | {precision} | {n / 1e6:.2f}M | {train:.3f} | {forward:.3f} |", flush=True)
        print(f"| autoencoder 16,32,32 | {precision} | | {autoencoder_time(precision):.3f} | |", flush=True)


if __name__ == "__main__":
    main()
