"""A small denoising diffusion model: diffusers' UNet2DModel trained with a DDPMScheduler (epsilon or v, MSE).

Training objective (as diffusers' training examples offer it): `prediction_type` epsilon (the noise) or
v_prediction (v = alpha_t noise - sigma_t x0, Salimans & Ho 2022), each with an MSE; `snr_gamma` weights each
timestep's MSE by min(SNR_t, gamma) / SNR_t for epsilon, / (SNR_t + 1) for v (min-SNR-gamma, Hang et al. 2023;
diffusers' `compute_snr`), null for the plain mean. The schedulers sample either prediction type.

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

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler
from diffusers.training_utils import compute_snr

from bench.errors import BenchError, check_fraction, check_positive
from bench.models import unet_parts
from bench.models.base import check_sampling, finite_samples
from bench.models.self_guidance import SelfGuided, check_negative_guidance

SAMPLERS = ("ddim", "ddpm")
PREDICTION_TYPES = ("epsilon", "v_prediction")
SPACINGS = ("trailing", "leading", "linspace")
CLASS_BALANCES = unet_parts.CLASS_BALANCES
PRECISIONS = unet_parts.PRECISIONS
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
    # the last timestep, as a share of num_train_timesteps (null: the spacing's own, 0 for leading); its denoised
    # estimate is the sample (unet_parts.check_t_min)
    "t_min": None,
    # w of SIMS' negative guidance from the generation's self-consumed twin (bench.models.self_guidance); 0: none
    "negative_guidance": 0.0,
}
# eps-MSE of a model that predicts no noise at all is 1.0 (noise ~ N(0, I)); the v-MSE of one that predicts v = 0
# is abar_t + (1 - abar_t) E[x0^2], near 1 too for [-1, 1] pixels (about 0.9 on MNIST). Well above half of it
# the model has barely learned to denoise, and its samples are noise whatever the loop does
UNTRAINED_MSE = 0.5


class DDPM(SelfGuided, L.LightningModule):
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
        prediction_type: str = "epsilon",
        snr_gamma: float | None = None,
        lr: float = 1e-3,
        warmup_steps: int = 100,
        lr_schedule: str = "constant",
        ema_decay: float = 0.999,
        ema_power: float = 0.75,
        auxiliary_steps: int = 300,
    ):
        super().__init__()
        channels = unet_parts.check_channels(channels, norm_num_groups)
        check_positive("model.layers_per_block", layers_per_block)
        check_positive("model.num_train_timesteps", num_train_timesteps)
        check_fraction("model.label_dropout", label_dropout)
        check_fraction("model.ema_decay", ema_decay)
        check_positive("model.auxiliary_steps", auxiliary_steps)
        unet_parts.check_lr_schedule(lr_schedule)
        if prediction_type not in PREDICTION_TYPES:
            allowed = ", ".join(PREDICTION_TYPES)
            raise BenchError(f"model.prediction_type={prediction_type!r} is not known; allowed: {allowed}")
        bad_gamma = isinstance(snr_gamma, bool) or not isinstance(snr_gamma, (int, float)) or not snr_gamma > 0
        if snr_gamma is not None and bad_gamma:
            raise BenchError(f"model.snr_gamma={snr_gamma!r} must be a positive number (Hang et al.: 5) or null")
        if conditional and not num_classes:
            raise BenchError("model.conditional=true needs class labels, but the data set's feature space has none")
        self.save_hyperparameters()
        self.pad = unet_parts.padding(tuple(image_shape), len(channels))
        self.unet = unet_parts.build_unet(
            tuple(image_shape),
            self.pad,
            channels=channels,
            layers_per_block=layers_per_block,
            attention=attention,
            norm_num_groups=norm_num_groups,
            num_classes=num_classes if conditional else None,
        )
        self.scheduler = DDPMScheduler(
            num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, prediction_type=prediction_type
        )
        # label frequencies of the training set (for `sampling.class_balance=train`); saved with the weights
        self.register_buffer("label_counts", torch.zeros(max(1, num_classes or 1), dtype=torch.long))
        self.ema = None  # diffusers' EMAModel while training (unet_parts.start_ema)

    @property
    def needs_labels(self) -> bool:
        """Whether training batches must carry class labels (the loop only classifies D_t when they do)."""
        return bool(self.hparams.conditional)

    # training
    def to_unit(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_uint8.float() / 127.5 - 1.0
        return F.pad(x, self.pad, value=-1.0)

    def denoising_loss(self, x0, labels, *, generator=None, weighted: bool = False) -> torch.Tensor:
        """Per-image MSE of the prediction target (noise or v) at uniformly drawn timesteps (the DDPM training
        objective); `weighted`: times the min-SNR-gamma weight of its timestep when `snr_gamma` is set.

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
        target = noise if self.hparams.prediction_type == "epsilon" else self.scheduler.get_velocity(x0, noise, t)
        mse = F.mse_loss(pred.float(), target.float(), reduction="none").flatten(1).mean(1)
        return mse * self.snr_weights(t) if weighted and self.hparams.snr_gamma is not None else mse

    def snr_weights(self, t: torch.Tensor) -> torch.Tensor:
        """min(SNR_t, gamma) / SNR_t (epsilon) or / (SNR_t + 1) (v): diffusers' train_text_to_image.py's weights."""
        snr = compute_snr(self.scheduler, t)
        clipped = snr.clamp(max=self.hparams.snr_gamma)
        return clipped / snr if self.hparams.prediction_type == "epsilon" else clipped / (snr + 1)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        class_labels = None
        if self.hparams.conditional:
            drop = torch.rand(len(labels), device=labels.device) < self.hparams.label_dropout
            class_labels = torch.where(drop, torch.full_like(labels, self.hparams.num_classes), labels)
        loss = self.denoising_loss(self.to_unit(images), class_labels, weighted=True).mean()
        self.log("mse", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def on_fit_start(self):
        self.label_counts.zero_()
        # a fresh average of the weights training starts from (after a warm start's load_state_dict, too)
        self.ema = unet_parts.start_ema(
            self.unet, decay=self.hparams.ema_decay, power=self.hparams.ema_power, device=self.device
        )

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
        return unet_parts.configure_optimizers(self)

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
        s["guidance"] = unet_parts.check_guidance(s["guidance"], conditional=self.hparams.conditional)
        s["t_min"] = unet_parts.check_t_min(
            s["t_min"], sampler=s["sampler"], allowed_samplers=("ddpm",), steps=s["steps"]
        )
        s["negative_guidance"] = check_negative_guidance(s["negative_guidance"], guidance=s["guidance"])
        if s["t_min"] is not None:
            span = self.hparams.num_train_timesteps - self.last_timestep(s["t_min"])
            if s["steps"] > span:
                raise BenchError(
                    f"sampling.steps={s['steps']} exceeds the {span} timesteps from sampling.t_min={s['t_min']} "
                    f"to the first of model.num_train_timesteps={self.hparams.num_train_timesteps}"
                )
        return s

    def last_timestep(self, t_min: float) -> int:
        return round(t_min * self.hparams.num_train_timesteps)

    def label_probs(self, source: str) -> torch.Tensor:
        return unet_parts.label_probs(
            source,
            num_classes=self.hparams.num_classes,
            class_shares=self.hparams.class_shares,
            label_counts=self.label_counts,
        )

    def scheduler_for(self, s: dict):
        cls = DDIMScheduler if s["sampler"] == "ddim" else DDPMScheduler
        sched = cls.from_config(
            self.scheduler.config, timestep_spacing=s["timestep_spacing"], clip_sample=s["clip_sample"]
        )
        if s["t_min"] is None:
            sched.set_timesteps(s["steps"], device=self.device)
        else:  # evenly spaced from the first timestep down to t_min's; the last step outputs its denoised estimate
            top, last = self.hparams.num_train_timesteps - 1, self.last_timestep(s["t_min"])
            times = np.linspace(top, last, s["steps"]).round().astype(int)
            sched.set_timesteps(timesteps=[int(t) for t in times], device=self.device)
        return sched

    @torch.inference_mode()
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor | None = None, **sampling):
        """n uint8 images; a conditional model draws their labels by `sampling.class_balance` unless given them."""
        s = self.sampling_settings(**sampling)
        self.check_auxiliary(s, n)
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
        autocast = unet_parts.autocast(s["precision"], self.device)
        # DDPM's ancestral step always uses the clipped clean image; DDIM keeps the raw noise estimate unless told
        step_kwargs = (
            {"eta": s["eta"], "use_clipped_model_output": s["use_clipped_model_output"]}
            if s["sampler"] == "ddim"
            else {}
        )
        for t in sched.timesteps:
            with autocast:
                eps = self.unet(torch.cat([x, x]) if guided else x, t, class_labels=labels).sample.float()
                eps = self.steer(eps, x, t, labels, s)  # negative guidance (never together with `guided`)
            if guided:
                cond, uncond = eps.chunk(2)
                eps = cond + s["guidance"] * (cond - uncond)
            x = sched.step(eps, t, x, generator=generator, **step_kwargs).prev_sample
        x = x[..., :h, :w]
        return unet_parts.to_uint8(finite_samples(x))

    # the loop's health check
    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor, *, batch_size: int = 500) -> dict:
        """The denoising MSE (of the noise or of v, unweighted) on `images` at seeded timesteps and noise
        (repeatable), over all timesteps."""
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
                f"untrained: denoising MSE {mse:.3f} > {UNTRAINED_MSE} (predicting 0 scores about 1.0); "
                "this generation's scores reflect a training failure, not model collapse"
            )
        return {"denoising_mse": mse, "untrained": mse > UNTRAINED_MSE, "warnings": warnings}

    # diffusers' own format, beside the loop's checkpoint
    def save_pretrained(self, path) -> None:
        """A DDPMPipeline folder: `DDPMPipeline.from_pretrained(path)` samples it (unconditional models), and
        `UNet2DModel.from_pretrained(path, subfolder="unet")` with the scheduler in `scheduler/` loads any."""
        DDPMPipeline(unet=self.unet, scheduler=self.scheduler).save_pretrained(str(path), safe_serialization=True)
        if self.auxiliary is not None:  # sampling.negative_guidance's self-consumed twin (bench.models.self_guidance)
            self.auxiliary.save_pretrained(f"{path}/auxiliary_unet", safe_serialization=True)
