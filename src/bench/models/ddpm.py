"""A small denoising diffusion model: diffusers' UNet2DModel trained with a DDPMScheduler (epsilon, MSE).

Sampling goes through diffusers' schedulers (`sampler=ddpm`: ancestral; `sampler=ddim`: DDIM with `eta`),
with the settings of the config node `sampling` passed at call time: sampler, steps, eta, timestep
spacing, guidance, the class balance of conditional samples and the autocast precision.

EMA: diffusers' `EMAModel` with its warm-up schedule (decay 1 - (1 + step)^-power, capped at
`ema_decay`), stepped after every optimizer step and copied into the UNet when training ends, so the
saved checkpoint, the samples and warm starts all use the averaged weights. Chosen over Lightning's
WeightAveraging callback because that one averages with a fixed decay from step 0: on a CPU run of
a thousand steps a 0.999 average still remembers the random initialisation.

Class-conditional (`conditional=true`): class embeddings in the UNet (one extra "no label" class),
labels dropped to it with probability `label_dropout` in training, and classifier-free guidance
eps = (1 + w) eps(x, c) - w eps(x, no label) with w = `sampling.guidance` (MAD's lambda = 1 / (1 + w)).
Labels are the reference classifier's classes of the training images (run.py supplies them), so real
and synthetic generations are labelled alike.
"""

from __future__ import annotations

import contextlib
import math

import lightning as L
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler, UNet2DModel
from diffusers.training_utils import EMAModel

from bench.errors import BenchError, check_fraction, check_positive
from bench.models.base import check_sampling, finite_samples

SAMPLERS = ("ddim", "ddpm")
SPACINGS = ("trailing", "leading", "linspace")
CLASS_BALANCES = ("train", "real", "uniform")
PRECISIONS = ("fp32", "bf16")
SAMPLING_DEFAULTS = {
    "sampler": "ddpm",
    "steps": 50,
    "eta": 0.0,
    "timestep_spacing": "leading",
    "clip_sample": True,
    "use_clipped_model_output": True,
    "guidance": 0.0,
    "class_balance": "train",
    "precision": "fp32",
    "batch_size": 500,
}
# eps-MSE of a model that predicts no noise at all is 1.0 (noise ~ N(0, I)); well above half of it the
# model has barely learned to denoise, and its samples are noise whatever the loop does
UNTRAINED_MSE = 0.5


class DDPM(L.LightningModule):
    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        num_classes: int | None = None,
        class_shares: list[float] | None = None,
        channels: tuple[int, ...] = (32, 64, 64),
        layers_per_block: int = 1,
        attention: bool = False,
        norm_num_groups: int = 8,
        conditional: bool = False,
        label_dropout: float = 0.1,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "linear",
        lr: float = 1e-3,
        warmup_steps: int = 100,
        ema_decay: float = 0.999,
        ema_power: float = 0.75,
    ):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not channels or any(c <= 0 or c % norm_num_groups for c in channels):
            raise BenchError(
                f"model.channels={list(channels)} must be positive multiples of model.norm_num_groups={norm_num_groups}"
            )
        check_positive("model.layers_per_block", layers_per_block)
        check_positive("model.num_train_timesteps", num_train_timesteps)
        check_fraction("model.label_dropout", label_dropout)
        check_fraction("model.ema_decay", ema_decay)
        if conditional and not num_classes:
            raise BenchError("model.conditional=true needs class labels, but the data set's feature space has none")
        self.save_hyperparameters()
        c, h, w = image_shape
        # the UNet halves the size len(channels) - 1 times: pad up to a multiple, crop samples back
        f = 2 ** (len(channels) - 1)
        self.pad = (0, math.ceil(w / f) * f - w, 0, math.ceil(h / f) * f - h)
        down = ["DownBlock2D"] * len(channels)
        up = ["UpBlock2D"] * len(channels)
        if attention:  # self-attention at the lowest resolution only: cheap, and where global structure lives
            down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
        self.unet = UNet2DModel(
            sample_size=(h + self.pad[3], w + self.pad[1]),
            in_channels=c,
            out_channels=c,
            block_out_channels=channels,
            layers_per_block=layers_per_block,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            norm_num_groups=norm_num_groups,
            # the last index is "no label": what classifier-free guidance compares with
            num_class_embeds=num_classes + 1 if conditional else None,
        )
        self.scheduler = DDPMScheduler(
            num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, prediction_type="epsilon"
        )
        # label frequencies of the training set (for `sampling.class_balance=train`); saved with the weights
        self.register_buffer("label_counts", torch.zeros(max(1, num_classes or 1), dtype=torch.long))
        self.ema: EMAModel | None = None

    @property
    def needs_labels(self) -> bool:
        """Whether training batches must carry class labels (the loop only classifies D_t when they do)."""
        return bool(self.hparams.conditional)

    # training
    def to_unit(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_uint8.float() / 127.5 - 1.0
        return F.pad(x, self.pad, value=-1.0)

    def denoising_loss(self, x0, labels, *, generator=None) -> torch.Tensor:
        """Per-image eps-MSE at uniformly drawn timesteps (the DDPM training objective).

        With a (CPU) `generator` the noise and timesteps are drawn on the CPU and moved: the same numbers on
        every device, for repeatable diagnostics; training draws them where the images are.
        """
        if generator is None:
            noise = torch.randn_like(x0)
            t = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(x0),), device=x0.device)
        else:
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
            t = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(x0),), generator=generator)
            t = t.to(x0.device)
        noisy = self.scheduler.add_noise(x0, noise, t)
        pred = self.unet(noisy, t, class_labels=labels).sample
        return F.mse_loss(pred.float(), noise.float(), reduction="none").flatten(1).mean(1)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        class_labels = None
        if self.hparams.conditional:
            drop = torch.rand(len(labels), device=labels.device) < self.hparams.label_dropout
            class_labels = torch.where(drop, torch.full_like(labels, self.hparams.num_classes), labels)
        loss = self.denoising_loss(self.to_unit(images), class_labels).mean()
        self.log("mse", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def on_fit_start(self):
        self.label_counts.zero_()
        if not self.hparams.ema_decay:  # 0: no average, sample the trained weights
            return
        # a fresh average of the weights training starts from (after a warm start's load_state_dict, too)
        self.ema = EMAModel(
            self.unet.parameters(),
            decay=self.hparams.ema_decay,
            use_ema_warmup=True,
            power=self.hparams.ema_power,
            foreach=True,  # one fused update instead of a kernel per tensor: per-step overhead set the GPU's pace
        )
        self.ema.to(self.device)

    def on_train_batch_start(self, batch, batch_idx):
        if self.current_epoch == 0 and self.needs_labels:  # one pass over D_t (or what max_steps allows)
            self.label_counts += torch.bincount(batch[1], minlength=len(self.label_counts))[: len(self.label_counts)]

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.ema is not None:
            self.ema.step(self.unet.parameters())

    def on_train_end(self):
        if self.ema is not None:
            self.ema.copy_to(self.unet.parameters())  # from here on the model is its average
            self.ema = None

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.unet.parameters(), lr=self.hparams.lr, weight_decay=0.0)
        warmup = max(1, int(self.hparams.warmup_steps))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # sampling
    def sampling_settings(self, **sampling) -> dict:
        """The full settings (defaults filled in), checked: one-line errors for unknown keys or bad values."""
        s = {**SAMPLING_DEFAULTS, **check_sampling("ddpm", sampling, SAMPLING_DEFAULTS)}
        for key, allowed in (
            ("sampler", SAMPLERS),
            ("timestep_spacing", SPACINGS),
            ("class_balance", CLASS_BALANCES),
            ("precision", PRECISIONS),
        ):
            if s[key] not in allowed:
                raise BenchError(f"sampling.{key}={s[key]!r} is not known; allowed: {', '.join(allowed)}")
        s["steps"] = check_positive("sampling.steps", s["steps"])
        s["batch_size"] = check_positive("sampling.batch_size", s["batch_size"])
        if s["steps"] > self.hparams.num_train_timesteps:
            raise BenchError(
                f"sampling.steps={s['steps']} exceeds model.num_train_timesteps={self.hparams.num_train_timesteps}"
            )
        s["eta"] = check_fraction("sampling.eta", s["eta"])
        for key in ("clip_sample", "use_clipped_model_output"):
            if not isinstance(s[key], bool):
                raise BenchError(f"sampling.{key}={s[key]!r} must be true or false")
        w = s["guidance"]
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            raise BenchError(f"sampling.guidance={w!r} must be a number >= 0 (0: no guidance)")
        if w and not self.hparams.conditional:
            raise BenchError(f"sampling.guidance={w} needs a class-conditional model (model.conditional=true)")
        return s

    def label_probs(self, source: str) -> torch.Tensor:
        k = self.hparams.num_classes
        if source == "real" and self.hparams.class_shares is not None:
            probs = torch.tensor(self.hparams.class_shares, dtype=torch.float64)
        elif source == "train" and self.label_counts.sum() > 0:
            probs = self.label_counts.double().cpu()
        else:  # uniform, or nothing recorded yet (an untrained model)
            probs = torch.ones(k, dtype=torch.float64)
        return probs / probs.sum()

    def scheduler_for(self, s: dict):
        cls = DDIMScheduler if s["sampler"] == "ddim" else DDPMScheduler
        sched = cls.from_config(
            self.scheduler.config, timestep_spacing=s["timestep_spacing"], clip_sample=s["clip_sample"]
        )
        sched.set_timesteps(s["steps"], device=self.device)
        return sched

    @torch.inference_mode()
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor | None = None, **sampling):
        """n uint8 images; a conditional model draws their labels by `sampling.class_balance` unless given them."""
        s = self.sampling_settings(**sampling)
        if self.hparams.conditional and labels is None:
            labels = torch.multinomial(self.label_probs(s["class_balance"]), n, replacement=True, generator=generator)
        was_training = self.training
        self.eval()
        sched = self.scheduler_for(s)  # stateless between batches (DDPM, DDIM): built once per call
        out = [torch.empty(0, *self.hparams.image_shape, dtype=torch.uint8)]
        for start in range(0, n, s["batch_size"]):
            m = min(s["batch_size"], n - start)
            batch_labels = None if labels is None else labels[start : start + m].to(self.device)
            out.append(self._sample_batch(m, s, sched, generator, batch_labels))
        self.train(was_training)
        return torch.cat(out)

    def _sample_batch(self, m: int, s: dict, sched, generator: torch.Generator, labels: torch.Tensor | None):
        c, h, w = self.hparams.image_shape
        shape = (m, c, h + self.pad[3], w + self.pad[1])
        # noise from the caller's CPU generator: the same images on every device and after a resume
        x = torch.randn(shape, generator=generator).to(self.device)
        guided = labels is not None and s["guidance"] > 0
        if labels is not None and guided:
            labels = torch.cat([labels, torch.full_like(labels, self.hparams.num_classes)])
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if s["precision"] == "bf16"
            else contextlib.nullcontext()
        )
        # DDPM's ancestral step always uses the clipped clean image; DDIM keeps the raw noise estimate unless told
        step_kwargs = (
            {"eta": s["eta"], "use_clipped_model_output": s["use_clipped_model_output"]}
            if s["sampler"] == "ddim"
            else {}
        )
        for t in sched.timesteps:
            with autocast:
                eps = self.unet(torch.cat([x, x]) if guided else x, t, class_labels=labels).sample.float()
            if guided:
                cond, uncond = eps.chunk(2)
                eps = cond + s["guidance"] * (cond - uncond)
            x = sched.step(eps, t, x, generator=generator, **step_kwargs).prev_sample
        x = x[..., :h, :w]
        return ((finite_samples(x).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()

    # the loop's health check
    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor, *, batch_size: int = 500) -> dict:
        """The denoising MSE on `images` at seeded timesteps and noise (repeatable), over all timesteps."""
        was_training = self.training
        self.eval()
        g = torch.Generator().manual_seed(0)
        total = 0.0
        for start in range(0, len(images), batch_size):
            x0 = self.to_unit(images[start : start + batch_size]).to(self.device)
            labels = None
            if self.hparams.conditional:  # the unconditional prediction: what guidance starts from
                labels = torch.full((len(x0),), self.hparams.num_classes, device=self.device)
            total += self.denoising_loss(x0, labels, generator=g).sum().item()
        self.train(was_training)
        mse = total / max(1, len(images))
        warnings = []
        if mse > UNTRAINED_MSE:
            warnings.append(
                f"untrained: denoising MSE {mse:.3f} > {UNTRAINED_MSE} (predicting no noise scores 1.0); "
                "this generation's scores reflect a training failure, not model collapse"
            )
        return {"denoising_mse": mse, "untrained": mse > UNTRAINED_MSE, "warnings": warnings}

    # diffusers' own format, beside the loop's checkpoint
    def save_pretrained(self, path) -> None:
        """A DDPMPipeline folder: `DDPMPipeline.from_pretrained(path)` samples it (unconditional models), and
        `UNet2DModel.from_pretrained(path, subfolder="unet")` with the scheduler in `scheduler/` loads any."""
        DDPMPipeline(unet=self.unet, scheduler=self.scheduler).save_pretrained(str(path), safe_serialization=True)
