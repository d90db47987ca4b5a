"""A Gaussian fitted by maximum likelihood in pixel space: the model whose collapse is known in closed form.

Training is one pass over D_t accumulating the sums of x and x x^T (float64, pixels in [0, 255]); the fit is the
ML estimate mean = Σx/n, cov = Σ(x - mean)(x - mean)^T / n (divisor n, not n - 1: the maximum-likelihood fit
whose variance shrinks in expectation by (n - 1)/n per refit, Shumailov et al. 2023). Sampling draws
x = mean + temperature · V sqrt(Λ) z, z ~ N(0, I), with cov = V Λ V^T (negative round-off eigenvalues set to 0),
then rounds and clips to uint8 images, as every model of the loop must return.

`model.components=K` (K > 1) fits a mixture of K full-covariance Gaussians by EM instead (`model.em_iterations`
steps from a seeded k-means++ start, `model.reg` pixel² added to each covariance's diagonal so that the
constant background pixels of MNIST leave no component singular); K = 1 is the closed form above.

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
from bench.models.base import check_sampling, finite_samples

SAMPLING_DEFAULTS = {"temperature": 1.0}


class Gaussian(L.LightningModule):
    """A maximum-likelihood Gaussian over flattened uint8 pixels (full covariance)."""

    needs_labels = False

    def __init__(
        self, *, image_shape: tuple[int, int, int], components: int = 1, em_iterations: int = 50, reg: float = 1.0
    ):
        super().__init__()
        for key, value in (("components", components), ("em_iterations", em_iterations)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchError(f"model.{key}={value!r} must be a positive integer")
        if isinstance(reg, bool) or not isinstance(reg, (int, float)) or reg < 0:
            raise BenchError(f"model.reg={reg!r} must be a number >= 0")
        self.save_hyperparameters()
        d = int(torch.tensor(image_shape).prod())
        k = int(components)
        self.automatic_optimization = False  # nothing to optimise: the fit is the ML estimate (closed form or EM)
        self.register_buffer("weights", torch.ones(k, dtype=torch.float64) / k)
        self.register_buffer("means", torch.zeros(k, d, dtype=torch.float64))
        self.register_buffer("covs", torch.zeros(k, d, d, dtype=torch.float64))
        self.register_buffer("n_fit", torch.zeros((), dtype=torch.long))
        self._sums: tuple[torch.Tensor, torch.Tensor, int] | None = None
        self._batches: list[torch.Tensor] = []

    @property
    def mean(self) -> torch.Tensor:
        """The mixture's mean (the single Gaussian's mean when K = 1)."""
        return self.weights @ self.means

    @property
    def cov(self) -> torch.Tensor:
        """The mixture's covariance: within-component plus between-component spread."""
        centred = self.means - self.mean
        within = torch.einsum("k,kij->ij", self.weights, self.covs)
        return within + torch.einsum("k,ki,kj->ij", self.weights, centred, centred)

    # fitting: one epoch of Lightning batches, or fit_images() on a whole tensor
    def on_train_epoch_start(self) -> None:
        d = self.means.shape[1]
        self._sums = (torch.zeros(d, dtype=torch.float64), torch.zeros(d, d, dtype=torch.float64), 0)
        self._batches = []

    def training_step(self, batch, batch_idx):
        images = batch[0]
        x = images.reshape(len(images), -1).double().cpu()
        if self.hparams.components > 1:  # EM needs every image at once: kept for the end of the epoch
            self._batches.append(x)
            return
        assert self._sums is not None
        s1, s2, n = self._sums
        self._sums = (s1 + x.sum(0), s2 + x.T @ x, n + len(x))

    def on_train_epoch_end(self) -> None:
        if self.hparams.components > 1:
            self._fit_mixture(torch.cat(self._batches))
            self._batches = []
            return
        assert self._sums is not None
        self._set_fit(*self._sums)

    def configure_optimizers(self):
        return None

    def fit_images(self, images: torch.Tensor) -> Gaussian:
        """The ML fit on uint8 images (N, C, H, W), without a Trainer (what one epoch of training computes)."""
        x = images.reshape(len(images), -1).double()
        if self.hparams.components > 1:
            self._fit_mixture(x)
        else:
            self._set_fit(x.sum(0), x.T @ x, len(x))
        return self

    def _set_fit(self, s1: torch.Tensor, s2: torch.Tensor, n: int) -> None:
        if n < 2:
            raise BenchError(f"model gaussian needs at least 2 training images, got {n}")
        mean = s1 / n
        cov = s2 / n - torch.outer(mean, mean)  # divisor n: the maximum-likelihood estimate
        self.means[0].copy_(mean)
        self.covs[0].copy_((cov + cov.T) / 2)
        self.n_fit.fill_(n)

    def _fit_mixture(self, x: torch.Tensor) -> None:
        """EM for a K-component full-covariance mixture, from a k-means++ start drawn from torch's seeded RNG."""
        k, (n, d) = int(self.hparams.components), x.shape
        if n < 2 * k:
            raise BenchError(f"model gaussian with components={k} needs at least {2 * k} training images, got {n}")
        eye = torch.eye(d, dtype=torch.float64) * float(self.hparams.reg)
        centres = [x[int(torch.randint(n, (1,)))]]
        for _ in range(1, k):  # k-means++: the next centre far from the chosen ones
            d2 = torch.cdist(x, torch.stack(centres)).min(1).values ** 2
            centres.append(x[int(torch.multinomial(d2 / d2.sum() if d2.sum() > 0 else torch.ones(n), 1))])
        resp = torch.nn.functional.one_hot(torch.cdist(x, torch.stack(centres)).argmin(1), k).double()
        for _ in range(int(self.hparams.em_iterations)):
            nk = resp.sum(0) + 1e-12  # M step
            weights = nk / n
            means = (resp.T @ x) / nk[:, None]
            covs = torch.stack(
                [((resp[:, j, None] * (x - means[j])).T @ (x - means[j])) / nk[j] + eye for j in range(k)]
            )
            # E step: responsibilities from log densities (Cholesky; reg keeps every covariance positive definite)
            chol = torch.linalg.cholesky(covs)
            log_p = torch.empty(n, k, dtype=torch.float64)
            for j in range(k):
                z = torch.linalg.solve_triangular(chol[j], (x - means[j]).T, upper=False)
                log_det = 2 * chol[j].diagonal().log().sum()
                log_p[:, j] = weights[j].log() - 0.5 * (z**2).sum(0) - 0.5 * log_det
            resp = torch.softmax(log_p, dim=1)
        self.weights.copy_(weights)
        self.means.copy_(means)
        self.covs.copy_(covs)
        self.n_fit.fill_(n)

    # the loop's interface
    @staticmethod
    def sampling_settings(**sampling) -> dict:
        settings = {**SAMPLING_DEFAULTS, **check_sampling("gaussian", sampling, SAMPLING_DEFAULTS)}
        t = settings["temperature"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise BenchError(f"sampling.temperature={t!r} must be a number > 0")
        return settings

    def _scales(self) -> torch.Tensor:
        """V sqrt(Λ) per component: x = mean_j + scale_j @ z has covariance cov_j."""
        eigenvalues, vectors = torch.linalg.eigh(self.covs.cpu())
        return vectors * eigenvalues.clamp(min=0).sqrt()[:, None, :]

    @torch.inference_mode()
    def sample(self, n: int, *, generator: torch.Generator, batch_size: int = 1000, **sampling) -> torch.Tensor:
        settings = self.sampling_settings(**sampling)
        shape = tuple(self.hparams.image_shape)
        out = [torch.empty(0, *shape, dtype=torch.uint8)]
        if n == 0:
            return out[0]
        scales = self._scales() * float(settings["temperature"])
        means, weights = self.means.cpu(), self.weights.cpu()
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, means.shape[1], generator=generator, dtype=torch.float64)
            if len(weights) == 1:
                x = means[0] + z @ scales[0].T
            else:
                which = torch.multinomial(weights, m, replacement=True, generator=generator)
                x = torch.empty(m, means.shape[1], dtype=torch.float64)
                for j in range(len(weights)):  # per component: never a (m, d, d) gather of the scales
                    rows = which == j
                    x[rows] = means[j] + z[rows] @ scales[j].T
            out.append(finite_samples(x).round().clamp(0, 255).to(torch.uint8).reshape(m, *shape))
        return torch.cat(out)

    @torch.inference_mode()
    def diagnostics(self, images: torch.Tensor) -> dict:
        """The fit's total variance (trace of the covariance, pixel units²), its mean pixel, and the images it saw."""
        return {
            "smallest_weight": float(self.weights.min()),
            "total_variance": float(self.cov.diagonal().sum()),
            "mean_pixel": float(self.mean.mean()),
            "n_fit": int(self.n_fit),
            "warnings": [],
        }
