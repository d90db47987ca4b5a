"""Latent flow matching: diffusers' AutoencoderKL, sized for 28x28, with `bench.models.flow`'s flow in its latent space.

This is how modern image generators work (Rombach et al. 2022): an autoencoder compresses images to a small latent
grid (here 4 x 8 x 8 for MNIST padded to 32 x 32), and the generative model learns the latents. On a 2-core CPU a
flow on 256 latent numbers learns in minutes what a pixel-space model does not learn in an hour
(docs/diffusion_recipe.md).

Training a generation: the autoencoder first, in its own loop of `autoencoder_steps` Adam steps on D_t's batches
(reconstruction MSE + `kl_weight` x KL), then its latents' scale is fixed (1 / their standard deviation, diffusers'
`scaling_factor`), then the flow trains for `trainer.max_steps` on the scaled latents of D_t (posterior samples).
`trainer.max_steps` counts the flow's steps in both modes, so frozen and retrained runs give the flow equal compute.
The autoencoder does not change while the flow trains, so D_t is encoded once (each image's posterior mean and
standard deviation, `LatentCache`) and every step draws its batch's latents from those: the same draws as
encoding the batch each step, without an encoder pass a step (which cost as much as the flow's own step on a CPU).

`autoencoder` says what "collapse" is measured on, and results record it (the resolved config):
- `frozen`: the autoencoder is trained once on D_0 at generation 0 and every later generation takes it over
  (`inherit`), never retraining it: a decoder that only ever saw real data. Collapse happens in the latent
  flow only; this is how latent models are retrained on their own data in practice, the autoencoder is shared.
- `retrain`: both are trained on D_t every generation, so the decoder learns the synthetic data too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from lightning.pytorch.utilities.exceptions import SIGTERMException

from bench.errors import BenchError, Diverged, check_positive
from bench.models import unet_parts
from bench.models.flow import Flow

AUTOENCODER_MODES = ("frozen", "retrain")
SCALE_IMAGES = 2000  # latents whose standard deviation sets the scale
ENCODE_BATCH = 500


class LatentCache:
    """The autoencoder's posterior (mean, standard deviation) of every distinct image of D_t, looked up by the
    image's bytes: a training batch holds images, not their indices, and equal images share a posterior."""

    def __init__(self, images_uint8: torch.Tensor, encode):
        flat = images_uint8.reshape(len(images_uint8), -1).cpu().numpy()
        self.index: dict[bytes, int] = {}
        for i, row in enumerate(flat):
            self.index.setdefault(row.tobytes(), i)
        means, stds = [], []
        for batch in images_uint8.split(ENCODE_BATCH):
            posterior = encode(batch)
            means.append(posterior.mean.float())
            stds.append(posterior.std.float())
        self.mean, self.std = torch.cat(means), torch.cat(stds)

    def sample(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """Posterior draws for a batch (torch's global generator, as AutoencoderKL's own `sample` draws)."""
        flat = images_uint8.reshape(len(images_uint8), -1).cpu().numpy()
        rows = torch.tensor([self.index[row.tobytes()] for row in flat], device=self.mean.device)
        mean, std = self.mean[rows], self.std[rows]
        return mean + std * torch.randn(mean.shape, device=mean.device)


class LatentFlow(Flow):
    NAME = "ldm"

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        num_classes: int | None = None,
        class_shares: list[float] | None = None,
        autoencoder: str = "frozen",
        autoencoder_channels: tuple[int, ...] = (16, 32, 32),
        latent_channels: int = 4,
        autoencoder_attention: bool = False,
        autoencoder_steps: int = 800,
        autoencoder_lr: float = 2e-3,
        kl_weight: float = 1e-4,
        **flow,
    ):
        if autoencoder not in AUTOENCODER_MODES:
            raise BenchError(f"model.autoencoder={autoencoder!r} is not known; allowed: {', '.join(AUTOENCODER_MODES)}")
        ae_channels = unet_parts.check_channels(autoencoder_channels, 8)
        check_positive("model.latent_channels", latent_channels)
        check_positive("model.autoencoder_steps", autoencoder_steps)
        c, h, w = image_shape
        f = 2 ** (len(ae_channels) - 1)  # AutoencoderKL halves the (padded) size once per block but the last
        # images padded so that the latents need no padding of their own for the flow's UNet (28 -> 32: 8 x 8)
        unet_levels = len(flow.get("channels", (32, 64, 64)))
        image_pad = unet_parts.padding(tuple(image_shape), len(ae_channels) + unet_levels - 1)
        latent = (int(latent_channels), (h + image_pad[3]) // f, (w + image_pad[1]) // f)
        super().__init__(
            image_shape=image_shape, num_classes=num_classes, class_shares=class_shares, space_shape=latent, **flow
        )
        self.image_pad = image_pad
        self.vae = AutoencoderKL(
            in_channels=c,
            out_channels=c,
            down_block_types=("DownEncoderBlock2D",) * len(ae_channels),
            up_block_types=("UpDecoderBlock2D",) * len(ae_channels),
            block_out_channels=ae_channels,
            layers_per_block=1,
            latent_channels=int(latent_channels),
            norm_num_groups=8,
            sample_size=h + self.image_pad[3],
            # self-attention in the middle block (diffusers' default): 1.2x the seconds a step on a 2-core CPU
            mid_block_add_attention=bool(autoencoder_attention),
        )
        # 1 / the standard deviation of D_0's (frozen) or D_t's (retrain) latents; 0 until the autoencoder is trained
        self.register_buffer("latent_scale", torch.zeros(()))
        self.latent_cache: LatentCache | None = None  # D_t's posteriors while the flow trains

    # the latent space
    def images_to_unit(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_uint8.float() / 127.5 - 1.0
        return F.pad(x, self.image_pad, value=-1.0)

    def to_space(self, images_uint8: torch.Tensor) -> torch.Tensor:
        z = self.vae.encode(self.images_to_unit(images_uint8)).latent_dist.sample()
        return z * self.latent_scale

    def training_space(self, images_uint8: torch.Tensor) -> torch.Tensor:
        if self.latent_cache is None:  # a training step outside fit (D_t not encoded yet)
            return self.to_space(images_uint8)
        return self.latent_cache.sample(images_uint8) * self.latent_scale

    def from_space(self, z: torch.Tensor) -> torch.Tensor:
        x = self.vae.decode(z / self.latent_scale).sample
        _, h, w = self.hparams.image_shape
        return super().from_space(x[..., :h, :w])

    # the autoencoder's training, before the flow's
    def inherit(self, previous: dict) -> None:
        """What this model keeps of M_{t-1} when it is not warm-started: with `autoencoder=frozen`, the autoencoder
        and its latent scale (M_{t-1} holds generation 0's); nothing with `retrain`."""
        if self.hparams.autoencoder != "frozen":
            return
        kept = {k[len("vae.") :]: v for k, v in previous.items() if k.startswith("vae.")}
        self.vae.load_state_dict(kept)
        self.latent_scale.copy_(previous["latent_scale"])

    def auxiliary_copy(self):
        """The twin to fine-tune into the negative guidance's auxiliary keeps this model's autoencoder: only its flow
        learns the self-consumed samples (the latents must stay the base model's)."""
        twin = super().auxiliary_copy()
        twin.hparams.autoencoder = "frozen"
        return twin

    def on_train_start(self):
        loader = self.trainer.train_dataloader
        if not (self.latent_scale > 0 and self.hparams.autoencoder == "frozen"):  # else taken over from generation 0
            self.train_autoencoder(loader)
        self.latent_cache = self.encode_training_set(loader.dataset.tensors[0])

    def on_train_end(self):
        super().on_train_end()
        self.latent_cache = None

    def trainer_autocast(self):
        """The trainer's bf16 autocast (as resolved by Lightning, `auto` included) for the autoencoder's own loop and
        D_t's encoding, which run outside Lightning's training step."""
        bf16 = str(self.trainer.precision).startswith("bf16")
        return unet_parts.autocast("bf16" if bf16 else "fp32", self.device)

    @torch.no_grad()
    def encode_training_set(self, images_uint8: torch.Tensor) -> LatentCache:
        """D_t's posteriors under the autoencoder the flow trains on, in the trainer's precision."""

        def encode(batch):
            with self.trainer_autocast():
                return self.vae.encode(self.images_to_unit(batch.to(self.device))).latent_dist

        return LatentCache(images_uint8, encode)

    def autoencoder_loss(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images_to_unit(images_uint8)
        posterior = self.vae.encode(x).latent_dist
        recon = self.vae.decode(posterior.sample()).sample
        mse = F.mse_loss(recon.float(), x)
        return mse + self.hparams.kl_weight * posterior.kl().mean() / x[0].numel(), mse

    def train_autoencoder(self, loader) -> None:
        """`autoencoder_steps` Adam steps over `loader` (D_t, shuffled by the run's training seed), under the
        trainer's bf16 autocast when it trains in bf16; then the latent scale."""
        self.vae.train()
        opt = torch.optim.Adam(self.vae.parameters(), lr=self.hparams.autoencoder_lr)
        step, steps = 0, int(self.hparams.autoencoder_steps)
        while step < steps:
            for images, _ in loader:
                # a SIGTERM (a scheduler's stop) ends the run here as in Lightning's own loops, not minutes later
                if getattr(self.trainer, "received_sigterm", False):
                    raise SIGTERMException()
                with self.trainer_autocast():
                    loss, mse = self.autoencoder_loss(images.to(self.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.vae.parameters(), 1.0)
                opt.step()
                step += 1
                if not torch.isfinite(loss):
                    raise Diverged(f"at autoencoder step {step}: loss {loss.item()}")
                if step == steps or step % max(1, steps // 4) == 0:
                    print(f"  autoencoder step {step}/{steps}: reconstruction mse {mse.item():.4f}", flush=True)
                if step == steps:
                    break
        self.vae.requires_grad_(False)
        with torch.no_grad():
            images = loader.dataset.tensors[0][:SCALE_IMAGES].to(self.device)
            z = torch.cat([self.vae.encode(self.images_to_unit(b)).latent_dist.sample() for b in images.split(500)])
        self.latent_scale.fill_(1.0 / float(z.float().std()))

    # the loop's health check: the flow's, plus how well the autoencoder reconstructs
    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor, *, batch_size: int = 500) -> dict:
        out = super().diagnostics(images, batch_size=batch_size)
        total = 0.0
        for start in range(0, len(images), batch_size):
            x = self.images_to_unit(images[start : start + batch_size].to(self.device))
            recon = self.vae.decode(self.vae.encode(x).latent_dist.mode()).sample
            total += F.mse_loss(recon.float(), x, reduction="none").flatten(1).mean(1).sum().item()
        return {**out, "reconstruction_mse": total / max(1, len(images))}

    def save_pretrained(self, path) -> None:
        """The flow's `unet/` and `scheduler/`, and `vae/` (AutoencoderKL.from_pretrained(path, subfolder="vae"),
        its `scaling_factor` the latent scale)."""
        super().save_pretrained(path)
        self.vae.register_to_config(scaling_factor=float(self.latent_scale))
        self.vae.save_pretrained(f"{path}/vae", safe_serialization=True)
