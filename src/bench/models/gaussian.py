"""A Gaussian fitted by maximum likelihood in pixel space: the model whose collapse is known in closed form.

Training is one pass over D_t accumulating the sums of x and x x^T (float64, pixels in [0, 255]); the fit is the
ML estimate mean = Σx/n, cov = Σ(x - mean)(x - mean)^T / n (divisor n, not n - 1: the maximum-likelihood fit
whose variance shrinks in expectation by (n - 1)/n per refit, Shumailov et al. 2023). Sampling draws
x = mean + temperature · V sqrt(Λ) z, z ~ N(0, I), with cov = V Λ V^T (negative round-off eigenvalues set to 0),
then rounds and clips to uint8 images, as every model of the loop must return.

Why pixel space: the fit then lives exactly where the loop stores its data (uint8 pixels), so refitting on
generation t's samples is refitting on exactly what the model drew, up to rounding and clipping. A fixed PCA
space of the real data would add a projection between what is sampled and what is refitted, and the closed-form
laws would no longer describe the loop as run. Rounding adds 1/12 to each pixel's variance per generation;
clipping removes mass outside [0, 255]: on data well inside that range (the tests) both are negligible and the
laws hold; on MNIST, whose background is 0, clipping is not, which is itself what a reader sees in the run.
"""

from __future__ import annotations

import lightning as L
import torch

from bench.errors import BenchError
from bench.models.base import check_sampling

SAMPLING_DEFAULTS = {"temperature": 1.0}


class Gaussian(L.LightningModule):
    """A maximum-likelihood Gaussian over flattened uint8 pixels (full covariance)."""

    needs_labels = False

    def __init__(self, *, image_shape: tuple[int, int, int]):
        super().__init__()
        self.save_hyperparameters()
        d = int(torch.tensor(image_shape).prod())
        self.automatic_optimization = False  # nothing to optimise: the fit is the ML estimate from the sums
        self.register_buffer("mean", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("cov", torch.zeros(d, d, dtype=torch.float64))
        self.register_buffer("n_fit", torch.zeros((), dtype=torch.long))
        self._sums: tuple[torch.Tensor, torch.Tensor, int] | None = None

    # fitting: one epoch of Lightning batches, or fit_images() on a whole tensor
    def on_train_epoch_start(self) -> None:
        d = self.mean.numel()
        self._sums = (torch.zeros(d, dtype=torch.float64), torch.zeros(d, d, dtype=torch.float64), 0)

    def training_step(self, batch, batch_idx):
        images = batch[0]
        x = images.reshape(len(images), -1).double().cpu()
        assert self._sums is not None
        s1, s2, n = self._sums
        self._sums = (s1 + x.sum(0), s2 + x.T @ x, n + len(x))

    def on_train_epoch_end(self) -> None:
        assert self._sums is not None
        self._set_fit(*self._sums)

    def configure_optimizers(self):
        return None

    def fit_images(self, images: torch.Tensor) -> Gaussian:
        """The ML fit on uint8 images (N, C, H, W), without a Trainer (what one epoch of training computes)."""
        x = images.reshape(len(images), -1).double()
        self._set_fit(x.sum(0), x.T @ x, len(x))
        return self

    def _set_fit(self, s1: torch.Tensor, s2: torch.Tensor, n: int) -> None:
        if n < 2:
            raise BenchError(f"model gaussian needs at least 2 training images, got {n}")
        mean = s1 / n
        cov = s2 / n - torch.outer(mean, mean)  # divisor n: the maximum-likelihood estimate
        self.mean.copy_(mean)
        self.cov.copy_((cov + cov.T) / 2)
        self.n_fit.fill_(n)

    # the loop's interface
    @staticmethod
    def sampling_settings(**sampling) -> dict:
        settings = {**SAMPLING_DEFAULTS, **check_sampling("gaussian", sampling, SAMPLING_DEFAULTS)}
        t = settings["temperature"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise BenchError(f"sampling.temperature={t!r} must be a number > 0")
        return settings

    def _scale(self) -> torch.Tensor:
        """V sqrt(Λ): x = mean + scale @ z has covariance cov."""
        eigenvalues, vectors = torch.linalg.eigh(self.cov.cpu())
        return vectors * eigenvalues.clamp(min=0).sqrt()

    @torch.inference_mode()
    def sample(self, n: int, *, generator: torch.Generator, batch_size: int = 1000, **sampling) -> torch.Tensor:
        settings = self.sampling_settings(**sampling)
        shape = tuple(self.hparams.image_shape)
        out = [torch.empty(0, *shape, dtype=torch.uint8)]
        if n == 0:
            return out[0]
        scale = self._scale() * float(settings["temperature"])
        mean = self.mean.cpu()
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, mean.numel(), generator=generator, dtype=torch.float64)
            x = mean + z @ scale.T
            out.append(x.round().clamp(0, 255).to(torch.uint8).reshape(m, *shape))
        return torch.cat(out)

    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor) -> dict:
        """The fit's total variance (trace of the covariance, pixel units²), its mean pixel, and the images it saw."""
        return {
            "total_variance": float(self.cov.diagonal().sum()),
            "mean_pixel": float(self.mean.mean()),
            "n_fit": int(self.n_fit),
            "warnings": [],
        }
