"""A convolutional VAE on [0, 1] pixels with a Bernoulli decoder (ELBO in nats per image).

Sampling settings (the config node `sampling`, passed to `sample`): the latent `temperature`,
z ~ N(0, temperature^2 I) — the VAE's sampling bias, MAD's lambda — and `mode`: a sample is the
decoder's mean (rounded to uint8) or a draw from its Bernoulli output distribution (pixels 0 or 255).
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import BenchError
from bench.models.base import check_sampling, finite_samples

SAMPLE_MODES = ("mean", "bernoulli")
SAMPLING_DEFAULTS = {"temperature": 1.0, "mode": "mean"}
# a generation whose average posterior KL is below this has (nearly) stopped using its latent:
# posterior collapse, which scores like model collapse on every metric but is a training failure
POSTERIOR_COLLAPSE_NATS = 1.0


class VAE(L.LightningModule):
    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        latent_dim: int = 16,
        channels: tuple[int, int] = (16, 32),
        hidden_dim: int = 256,
        lr: float = 2e-3,
        kl_warmup_epochs: float = 2.0,
    ):
        super().__init__()
        for key, value in (("latent_dim", latent_dim), ("hidden_dim", hidden_dim)):
            if int(value) <= 0:
                raise BenchError(f"model.{key}={value} must be a positive integer")
        if kl_warmup_epochs < 0:
            raise BenchError(f"model.kl_warmup_epochs={kl_warmup_epochs} must be >= 0")
        self.save_hyperparameters()
        c, h, w = image_shape
        c1, c2 = channels
        # two stride-2 convolutions; odd sizes are handled by padding up and cropping the decoder output
        self.h4, self.w4 = math.ceil(h / 4), math.ceil(w / 4)
        self.pad = (0, self.w4 * 4 - w, 0, self.h4 * 4 - h)
        self.encoder = nn.Sequential(
            nn.Conv2d(c, c1, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(c2 * self.h4 * self.w4, hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, c2 * self.h4 * self.w4),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (c2, self.h4, self.w4)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c1, c, 4, stride=2, padding=1),
        )

    # model
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(F.pad(x, self.pad)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        _, h, w = self.hparams.image_shape
        return self.decoder(z)[..., :h, :w]

    def losses(
        self, images_uint8: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image reconstruction NLL and KL(q(z|x) || N(0, I)), both in nats."""
        x = images_uint8.float() / 255.0
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        recon = F.binary_cross_entropy_with_logits(self.decode_logits(z), x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return recon, kl

    # training
    def kl_weight(self) -> float:
        warmup_steps = self.hparams.kl_warmup_epochs * max(1, self.trainer.num_training_batches)
        return 1.0 if warmup_steps <= 0 else min(1.0, (self.global_step + 1) / warmup_steps)

    def training_step(self, batch, batch_idx):
        images = batch[0]  # (images, labels): the VAE is unconditional
        recon, kl = self.losses(images)
        beta = self.kl_weight()
        loss = (recon + beta * kl).mean()
        self.log_dict(
            {"recon": recon.mean(), "kl": kl.mean(), "beta": beta}, prog_bar=True, on_step=False, on_epoch=True
        )
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    # the loop's interface
    @staticmethod
    def sampling_settings(**sampling) -> dict:
        """The full settings (defaults filled in), checked: one-line errors for unknown keys or bad values."""
        settings = {**SAMPLING_DEFAULTS, **check_sampling("vae", sampling, SAMPLING_DEFAULTS)}
        if settings["mode"] not in SAMPLE_MODES:
            raise BenchError(f"sampling.mode={settings['mode']!r} is not known; allowed: {', '.join(SAMPLE_MODES)}")
        t = settings["temperature"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise BenchError(f"sampling.temperature={t!r} must be a number > 0")
        return settings

    @torch.inference_mode()
    def sample(self, n: int, *, generator: torch.Generator, batch_size: int = 1000, **sampling) -> torch.Tensor:
        settings = self.sampling_settings(**sampling)
        was_training = self.training
        self.eval()
        out = [torch.empty(0, *self.hparams.image_shape, dtype=torch.uint8)]
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, self.hparams.latent_dim, generator=generator) * settings["temperature"]
            probs = finite_samples(torch.sigmoid(self.decode_logits(z.to(self.device))).float().cpu())
            pixels = torch.bernoulli(probs, generator=generator) if settings["mode"] == "bernoulli" else probs
            out.append((pixels * 255).round().to(torch.uint8))
        self.train(was_training)
        return torch.cat(out)

    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor, *, batch_size: int = 1000) -> dict:
        """Average ELBO terms on `images` (uint8), with a fixed noise seed so the numbers are repeatable."""
        was_training = self.training
        self.eval()
        g = torch.Generator().manual_seed(0)
        recon_sum = kl_sum = 0.0
        for start in range(0, len(images), batch_size):
            recon, kl = self.losses(images[start : start + batch_size].to(self.device), generator=g)
            recon_sum += recon.sum().item()
            kl_sum += kl.sum().item()
        self.train(was_training)
        n = max(1, len(images))
        kl, recon = kl_sum / n, recon_sum / n
        warnings = []
        if kl < POSTERIOR_COLLAPSE_NATS:
            warnings.append(
                f"posterior collapse: latent KL {kl:.3f} nats < {POSTERIOR_COLLAPSE_NATS} — the VAE ignores its "
                "latent; this generation's scores reflect a training failure, not model collapse"
            )
        return {
            "latent_kl_nats": kl,
            "recon_nats": recon,
            "neg_elbo_nats": kl + recon,
            "posterior_collapse": kl < POSTERIOR_COLLAPSE_NATS,
            "warnings": warnings,
        }
