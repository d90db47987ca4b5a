"""Speed of the DDPM (and the VAE) against plain baselines on the same module, measured in one process.

    python benchmarks/bench_ddpm.py [device=cpu|cuda] [channels=16,32,32] [steps=20] [n=1000] [train_steps=100]
                                    [layers=1] [attention=false] [batch=128] [sample_batch=500] [vae=true]

- sampling: images/s of `DDPM.sample` (DDIM, fp32 and bf16 autocast) against diffusers' `DDIMPipeline`
  in float32 with the same UNet, scheduler, steps and batch size;
- training: optimizer steps/s of `bench.engine.train.fit` (Lightning) against a plain PyTorch loop doing the
  same work (same module and loss, AdamW, gradient clipping, warm-up, EMA step) on the same batches,
  in fp32 and bf16 autocast;
- the VAE: seconds per epoch of `fit` against a plain loop over the same module and batches.
Each baseline runs in the same process right beside the measured call. Not a test: numbers depend on the
machine and on whatever else runs; read them as ratios.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time

import torch
from diffusers import DDIMPipeline, DDIMScheduler
from diffusers.training_utils import EMAModel
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from bench.data.mnist import load_mnist
from bench.engine.train import fit
from bench.models.ddpm import DDPM
from bench.models.vae import VAE


def trainer_cfg(device: str, steps: int, batch: int, precision: str, epochs: int = -1):
    return OmegaConf.create(
        {
            "accelerator": "gpu" if device == "cuda" else "cpu",
            "devices": 1,
            "max_epochs": epochs,
            "max_steps": steps,
            "batch_size": batch,
            "precision": precision,
            "gradient_clip_val": 1.0 if steps > 0 else None,
            "enable_progress_bar": False,
            "deterministic": False,
            "logger": None,
            "callbacks": [],
        }
    )


def timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_sampling(model: DDPM, *, n: int, steps: int, batch: int) -> dict:
    g = lambda: torch.Generator().manual_seed(0)
    kw = {"sampler": "ddim", "steps": steps, "eta": 0.0, "batch_size": batch}
    model.sample(min(n, batch), generator=g(), **kw)  # warm-up (kernels, allocator)
    ours32 = timed(lambda: model.sample(n, generator=g(), precision="fp32", **kw))
    ours16 = timed(lambda: model.sample(n, generator=g(), precision="bf16", **kw))
    scheduler = DDIMScheduler.from_config(model.scheduler.config, timestep_spacing="trailing")
    pipe = DDIMPipeline(unet=model.unet, scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)

    def run_pipe():
        for start in range(0, n, batch):
            pipe(batch_size=min(batch, n - start), num_inference_steps=steps, eta=0.0, generator=g(), output_type="np")

    pipe32 = timed(run_pipe)
    return {
        "images_per_s": {"ours_fp32": n / ours32, "ours_bf16": n / ours16, "diffusers_ddim_pipeline_fp32": n / pipe32},
        "ratio_ours_bf16_vs_pipeline_fp32": pipe32 / ours16,
        "ratio_ours_fp32_vs_pipeline_fp32": pipe32 / ours32,
    }


def plain_ddpm_steps(model: DDPM, images, *, steps: int, batch: int, device: str, bf16: bool) -> None:
    """What fit does for a DDPM, without Lightning: the baseline of its overhead."""
    model.to(device).train()
    opt = torch.optim.AdamW(model.unet.parameters(), lr=model.hparams.lr, weight_decay=0.0)
    warmup = max(1, int(model.hparams.warmup_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    ema = EMAModel(model.unet.parameters(), decay=model.hparams.ema_decay, use_ema_warmup=True)
    ema.to(device)
    loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True)
    autocast = torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    done = 0
    while done < steps:
        for (x,) in loader:
            with autocast:
                loss = model.denoising_loss(model.to_unit(x.to(device)), None).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.unet.parameters(), 1.0)
            opt.step()
            sched.step()
            ema.step(model.unet.parameters())
            done += 1
            if done == steps:
                break
    ema.copy_to(model.unet.parameters())


def bench_ddpm_training(make, images, *, device: str, steps: int, batch: int) -> dict:
    out = {}
    for precision, bf16 in (("32-true", False), ("bf16-mixed", True)):
        torch.manual_seed(0)
        cfg = trainer_cfg(device, steps, batch, precision)
        lightning_s = timed(lambda cfg=cfg: fit(make(), images, trainer_cfg=cfg, seed=0))
        torch.manual_seed(0)
        plain_s = timed(
            lambda bf16=bf16: plain_ddpm_steps(make(), images, steps=steps, batch=batch, device=device, bf16=bf16)
        )
        out[precision] = {
            "lightning_steps_per_s": steps / lightning_s,
            "plain_steps_per_s": steps / plain_s,
            "lightning_overhead": lightning_s / plain_s,
        }
    out["bf16_speedup_lightning"] = out["bf16-mixed"]["lightning_steps_per_s"] / out["32-true"]["lightning_steps_per_s"]
    return out


def bench_vae(images, *, device: str, epochs: int = 2, batch: int = 64) -> dict:
    torch.manual_seed(0)
    lightning_s = timed(
        lambda: fit(
            VAE(image_shape=(1, 28, 28)), images, trainer_cfg=trainer_cfg(device, -1, batch, "32-true", epochs), seed=0
        )
    )
    torch.manual_seed(0)
    vae = VAE(image_shape=(1, 28, 28)).to(device)
    opt = torch.optim.Adam(vae.parameters(), lr=vae.hparams.lr)
    n_batches = -(-len(images) // batch)

    def plain():
        step = 0
        for _ in range(epochs):
            for (x,) in DataLoader(TensorDataset(images), batch_size=batch, shuffle=True):
                recon, kl = vae.losses(x.to(device))
                beta = min(1.0, (step + 1) / (vae.hparams.kl_warmup_epochs * n_batches))
                loss = (recon + beta * kl).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1

    plain_s = timed(plain)
    return {
        "lightning_s_per_epoch": lightning_s / epochs,
        "plain_s_per_epoch": plain_s / epochs,
        "lightning_overhead": lightning_s / plain_s,
        "lightning_steps_per_s": epochs * n_batches / lightning_s,
    }


def main(argv: list[str]) -> None:
    opts = dict(a.split("=", 1) for a in argv)
    device = opts.get("device", "cuda" if torch.cuda.is_available() else "cpu")
    torch.set_flush_denormal(True)
    channels = tuple(int(c) for c in opts.get("channels", "16,32,32").split(","))
    arch = {
        "channels": channels,
        "layers_per_block": int(opts.get("layers", 1)),
        "attention": opts.get("attention", "false") == "true",
        "norm_num_groups": 8 if min(channels) < 32 else 32,
    }
    steps, n, batch = int(opts.get("steps", 20)), int(opts.get("n", 1000)), int(opts.get("batch", 128))
    sample_batch = int(opts.get("sample_batch", 500))
    images = load_mnist().train_images[:4000]

    def make():
        return DDPM(image_shape=(1, 28, 28), **arch)

    torch.manual_seed(0)
    model = make().to(device)
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu x{torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "unet": {**arch, "parameters": sum(p.numel() for p in model.unet.parameters())},
        "sampling": {
            "n": n,
            "steps": steps,
            "batch": sample_batch,
            **bench_sampling(model, n=n, steps=steps, batch=sample_batch),
        },
        "training": {
            "steps": int(opts.get("train_steps", 100)),
            "batch": batch,
            **bench_ddpm_training(make, images, device=device, steps=int(opts.get("train_steps", 100)), batch=batch),
        },
    }
    if opts.get("vae", "true") == "true":
        result["vae"] = bench_vae(images, device=device)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
