"""Flow matching (rectified flow) with diffusers' UNet2DModel as the velocity network and diffusers' flow schedulers.

Training (Lipman et al. 2023, "Flow Matching for Generative Modeling"; Liu et al. 2023, rectified flow): an image x0
and noise e meet on the straight line x_s = (1 - s) x0 + s e, and the network learns the velocity e - x0 at x_s
(per-image MSE). The times s are drawn logit-normal by default (Esser et al. 2024, SD3: most weight on the middle of
the path, where the velocity is hardest to predict), or uniform. The network sees s * 1000, the time scale of
diffusers' `FlowMatchEulerDiscreteScheduler`, which samples it: Euler steps from s = 1 (noise) to s = 0
(`sampler=euler`) or Heun's second-order steps (`sampler=heun`), `sampling.steps` of them. Few steps is this
family's sampling bias: the straight paths are only straight on average, and a coarse integration blurs what the
model knows.

The independent coupling of x0 and e is the conditional flow matching of Tong et al. (2024) that Bertrand et al.'s
iterative-retraining code trains (their OT-CFM pairs the batch by optimal transport first; not done here).

EMA, class conditioning (an extra "no label" class, `label_dropout`) and classifier-free guidance
v = (1 + w) v(x, c) - w v(x, no label) work as in `bench.models.ddpm` (shared: `bench.models.unet_parts`).

`bench.models.ldm.LatentFlow` runs this same flow in an autoencoder's latent space: the flow works on whatever
`to_space` gives and `from_space` takes back.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from diffusers import FlowMatchEulerDiscreteScheduler, FlowMatchHeunDiscreteScheduler

from bench.errors import BenchError, check_fraction, check_positive
from bench.models import unet_parts
from bench.models.base import check_sampling, finite_samples
from bench.models.self_guidance import SelfGuided, check_negative_guidance

SCHEDULERS = {"euler": FlowMatchEulerDiscreteScheduler, "heun": FlowMatchHeunDiscreteScheduler}
TIME_SAMPLINGS = ("logit_normal", "uniform")
NUM_TRAIN_TIMESTEPS = 1000  # the scheduler's time scale: the network sees s * 1000
SAMPLING_DEFAULTS = {
    "sampler": "euler",
    "steps": 30,
    # diffusers' time shift: > 1 spends more of the steps near the noise end (SD3 uses 3 at 1024 px)
    "shift": 1.0,
    "guidance": 0.0,
    "class_balance": "train",
    "precision": "fp32",
    "batch_size": 500,
    # the smallest time the Euler steps reach before the last step jumps to the data (null: the scheduler's 1/1000,
    # shifted); see unet_parts.check_t_min
    "t_min": None,
    # w of SIMS' negative guidance from the generation's self-consumed twin (bench.models.self_guidance); 0: none
    "negative_guidance": 0.0,
}
# "Untrained" is a flow-matching loss above this share of the loss of the best field that ignores x_s and s (the
# batch mean of the target e - x0): a fresh UNet sits near 1.0 or above, a trained latent flow on MNIST near 0.1
UNTRAINED_LOSS_RATIO = 0.8


class Flow(SelfGuided, L.LightningModule):
    NAME = "flow"  # in one-line errors about its settings

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
        time_sampling: str = "logit_normal",
        logit_mean: float = 0.0,
        logit_std: float = 1.0,
        lr: float = 1e-3,
        warmup_steps: int = 100,
        lr_schedule: str = "constant",
        ema_decay: float = 0.999,
        ema_power: float = 0.75,
        auxiliary_steps: int = 300,
        space_shape: tuple[int, int, int] | None = None,
    ):
        """`space_shape`: the shape the flow works in when it is not the images' (an autoencoder's latents)."""
        super().__init__()
        channels = unet_parts.check_channels(channels, norm_num_groups)
        check_positive("model.layers_per_block", layers_per_block)
        check_fraction("model.label_dropout", label_dropout)
        check_fraction("model.ema_decay", ema_decay)
        check_positive("model.auxiliary_steps", auxiliary_steps)
        unet_parts.check_lr_schedule(lr_schedule)
        if time_sampling not in TIME_SAMPLINGS:
            raise BenchError(
                f"model.time_sampling={time_sampling!r} is not known; allowed: {', '.join(TIME_SAMPLINGS)}"
            )
        if not logit_std > 0:
            raise BenchError(f"model.logit_std={logit_std} must be > 0")
        if conditional and not num_classes:
            raise BenchError("model.conditional=true needs class labels, but the data set's feature space has none")
        self.save_hyperparameters()
        self.space = tuple(space_shape or image_shape)
        self.pad = unet_parts.padding(self.space, len(channels))
        self.unet = unet_parts.build_unet(
            self.space,
            self.pad,
            channels=channels,
            layers_per_block=layers_per_block,
            attention=attention,
            norm_num_groups=norm_num_groups,
            num_classes=num_classes if conditional else None,
        )
        self.register_buffer("label_counts", torch.zeros(max(1, num_classes or 1), dtype=torch.long))
        self.ema = None

    @property
    def needs_labels(self) -> bool:
        return bool(self.hparams.conditional)

    # the space the flow works in (pixels here; latents in bench.models.ldm)
    def to_space(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_uint8.float() / 127.5 - 1.0
        return F.pad(x, self.pad, value=-1.0)

    def training_space(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """A training batch in the flow's space (bench.models.ldm draws it from latents encoded once a generation)."""
        return self.to_space(images_uint8)

    def from_space(self, x: torch.Tensor) -> torch.Tensor:
        _, h, w = self.hparams.image_shape
        return unet_parts.to_uint8(finite_samples(x[..., :h, :w]))

    def space_noise(self, m: int, generator: torch.Generator) -> torch.Tensor:
        c, h, w = self.space
        # drawn from the caller's CPU generator: the same images on every device and after a resume
        return torch.randn((m, c, h + self.pad[3], w + self.pad[1]), generator=generator).to(self.device)

    # training
    def draw_times(self, n: int, *, device, generator=None) -> torch.Tensor:
        if self.hparams.time_sampling == "uniform":
            return torch.rand(n, generator=generator).to(device) if generator else torch.rand(n, device=device)
        u = torch.randn(n, generator=generator).to(device) if generator else torch.randn(n, device=device)
        return torch.sigmoid(self.hparams.logit_mean + self.hparams.logit_std * u)

    def flow_loss(self, x0: torch.Tensor, labels, *, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example velocity MSE, and the same for the batch mean of the target, the best prediction that ignores
        x_s and s (the scale "untrained" is judged on).

        With a (CPU) `generator` the noise and times are drawn on the CPU and moved: the same numbers on every device,
        for repeatable diagnostics; training draws them where the data is.
        """
        if generator is None:
            noise = torch.randn_like(x0)
        else:
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
        s = self.draw_times(len(x0), device=x0.device, generator=generator)
        s_ = s.view(-1, *([1] * (x0.dim() - 1)))
        xs = (1 - s_) * x0 + s_ * noise
        target = noise - x0
        pred = self.unet(xs, s * NUM_TRAIN_TIMESTEPS, class_labels=labels).sample
        per_example = F.mse_loss(pred.float(), target.float(), reduction="none").flatten(1).mean(1)
        baseline = (target - target.mean(0, keepdim=True)).float().pow(2).flatten(1).mean(1)
        return per_example, baseline

    def train_labels(self, labels: torch.Tensor):
        if not self.hparams.conditional:
            return None
        drop = torch.rand(len(labels), device=labels.device) < self.hparams.label_dropout
        return torch.where(drop, torch.full_like(labels, self.hparams.num_classes), labels)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        with torch.no_grad():
            x0 = self.training_space(images)
        loss = self.flow_loss(x0, self.train_labels(labels))[0].mean()
        self.log("flow_mse", loss, prog_bar=True, on_step=True, on_epoch=False)
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
        s = {**SAMPLING_DEFAULTS, **check_sampling(self.NAME, sampling, SAMPLING_DEFAULTS)}
        unet_parts.check_choices(
            s,
            {
                "sampler": tuple(SCHEDULERS),
                "class_balance": unet_parts.CLASS_BALANCES,
                "precision": unet_parts.PRECISIONS,
            },
        )
        s["steps"] = check_positive("sampling.steps", s["steps"])
        s["batch_size"] = check_positive("sampling.batch_size", s["batch_size"])
        shift = s["shift"]
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not shift > 0:
            raise BenchError(f"sampling.shift={shift!r} must be a number > 0 (1: no shift)")
        s["guidance"] = unet_parts.check_guidance(s["guidance"], conditional=self.hparams.conditional)
        s["t_min"] = unet_parts.check_t_min(
            s["t_min"], sampler=s["sampler"], allowed_samplers=("euler",), steps=s["steps"]
        )
        s["negative_guidance"] = check_negative_guidance(s["negative_guidance"], guidance=s["guidance"])
        if s["t_min"] == 0.0:
            raise BenchError("sampling.t_min=0.0 must be above 0 for the flow (its last step jumps from t_min to 0)")
        return s

    def scheduler(self, s: dict):
        return SCHEDULERS[s["sampler"]](num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=float(s["shift"]))

    def set_times(self, sched, s: dict) -> None:
        """The scheduler's `steps` times from s = 1 down: its own (t_min null), or evenly spaced before the shift
        so that after it the last one is t_min exactly; the final Euler step goes from there to 0."""
        if s["t_min"] is None:
            sched.set_timesteps(s["steps"], device=self.device)
            return
        shift, t_min = float(s["shift"]), s["t_min"]
        unshifted = t_min / (shift - (shift - 1.0) * t_min)  # the inverse of diffusers' s t / (1 + (s - 1) t)
        sched.set_timesteps(sigmas=np.linspace(1.0, unshifted, s["steps"]).tolist(), device=self.device)

    @torch.inference_mode()
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor | None = None, **sampling):
        """n uint8 images; a conditional model draws their labels by `sampling.class_balance` unless given them."""
        s = self.sampling_settings(**sampling)
        self.check_auxiliary(s, n)
        if self.hparams.conditional and labels is None:
            probs = unet_parts.label_probs(
                s["class_balance"],
                num_classes=self.hparams.num_classes,
                class_shares=self.hparams.class_shares,
                label_counts=self.label_counts,
            )
            labels = torch.multinomial(probs, n, replacement=True, generator=generator)
        was_training = self.training
        self.eval()
        out = [torch.empty(0, *self.hparams.image_shape, dtype=torch.uint8)]
        for start in range(0, n, s["batch_size"]):
            m = min(s["batch_size"], n - start)
            batch_labels = None if labels is None else labels[start : start + m].to(self.device)
            out.append(self.from_space(self.integrate(self.space_noise(m, generator), s, batch_labels)))
        self.train(was_training)
        return torch.cat(out)

    def integrate(self, x: torch.Tensor, s: dict, labels: torch.Tensor | None) -> torch.Tensor:
        """From noise (s = 1) to data (s = 0) along the learned velocity, with the scheduler's steps."""
        sched = self.scheduler(s)  # stateful (its step index): a fresh one per batch
        self.set_times(sched, s)
        guided = labels is not None and s["guidance"] > 0
        if guided:
            labels = torch.cat([labels, torch.full_like(labels, self.hparams.num_classes)])
        for t in sched.timesteps:
            with unet_parts.autocast(s["precision"], self.device):
                v = self.unet(torch.cat([x, x]) if guided else x, t, class_labels=labels).sample.float()
                v = self.steer(v, x, t, labels, s)  # negative guidance (never together with `guided`)
            if guided:
                cond, uncond = v.chunk(2)
                v = cond + s["guidance"] * (cond - uncond)
            x = sched.step(v, t, x).prev_sample
        return x

    # the loop's health check
    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor, *, batch_size: int = 500) -> dict:
        """The flow-matching loss on `images` at seeded times and noise (repeatable), as a share of the loss of the
        best velocity field that ignores where it is (the batch mean of e - x0)."""
        was_training = self.training
        self.eval()
        g = torch.Generator().manual_seed(0)
        loss = zero = 0.0
        for start in range(0, len(images), batch_size):
            x0 = self.to_space(images[start : start + batch_size].to(self.device))
            labels = None
            if self.hparams.conditional:  # the unconditional prediction: what guidance starts from
                labels = torch.full((len(x0),), self.hparams.num_classes, device=self.device)
            per_example, baseline = self.flow_loss(x0, labels, generator=g)
            loss += per_example.sum().item()
            zero += baseline.sum().item()
        self.train(was_training)
        ratio = loss / zero if zero else float("nan")
        warnings = []
        if ratio > UNTRAINED_LOSS_RATIO:
            warnings.append(
                f"untrained: flow-matching loss {ratio:.2f} x that of a constant velocity field "
                f"(> {UNTRAINED_LOSS_RATIO}); this generation's scores reflect a training failure, not model collapse"
            )
        return {
            "flow_mse": loss / max(1, len(images)),
            "flow_loss_ratio": ratio,
            "untrained": ratio > UNTRAINED_LOSS_RATIO,
            "warnings": warnings,
        }

    # diffusers' own format, beside the loop's checkpoint
    def save_pretrained(self, path) -> None:
        """`unet/` (UNet2DModel.from_pretrained(path, subfolder="unet")) and `scheduler/` (the Euler flow scheduler
        with its defaults; sampling.shift and sampler are recorded in results.json)."""
        self.unet.save_pretrained(f"{path}/unet", safe_serialization=True)
        if self.auxiliary is not None:  # sampling.negative_guidance's self-consumed twin (bench.models.self_guidance)
            self.auxiliary.save_pretrained(f"{path}/auxiliary_unet", safe_serialization=True)
        FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS).save_pretrained(f"{path}/scheduler")
