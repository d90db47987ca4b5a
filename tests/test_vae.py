"""The VAE's sampling contract and its posterior-collapse flag."""

import pytest
import torch

from bench.models.vae import VAE


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 10, 14)])
def test_samples_are_uint8_shaped_like_the_data(shape):
    vae = VAE(image_shape=shape)
    s = vae.sample(7, generator=torch.Generator().manual_seed(0))
    assert s.dtype == torch.uint8 and tuple(s.shape) == (7, *shape)
    recon, kl = vae.losses(s)
    assert recon.shape == kl.shape == (7,)


def test_sampling_is_seeded_and_bernoulli_draws_are_binary():
    vae = VAE(image_shape=(1, 28, 28))
    a = vae.sample(5, generator=torch.Generator().manual_seed(1), mode="bernoulli")
    b = vae.sample(5, generator=torch.Generator().manual_seed(1), mode="bernoulli")
    assert torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0, 255}


def test_temperature_scales_the_latent():
    torch.manual_seed(0)
    vae = VAE(image_shape=(1, 8, 8))
    s = vae.sample(4, generator=torch.Generator().manual_seed(0), temperature=1e-6)
    # with (almost) no latent noise every sample is the decoder's image of z = 0
    assert (s.int() - s[0].int()).abs().max() <= 1


def test_posterior_collapse_is_flagged():
    vae = VAE(image_shape=(1, 8, 8))
    images = torch.randint(0, 256, (20, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():  # an encoder that always outputs q(z|x) = N(0, I): KL is exactly 0
        last = vae.encoder[-1]
        last.weight.zero_()
        last.bias.zero_()
    d = vae.diagnostics(images)
    assert d["latent_kl_nats"] == pytest.approx(0.0, abs=1e-6)
    assert d["posterior_collapse"] is True and "posterior collapse" in d["warnings"][0]
    with torch.no_grad():  # a confident encoder, far from the prior, is healthy
        last.bias[:16] = 3.0
    d = vae.diagnostics(images)
    assert d["latent_kl_nats"] == pytest.approx(16 * 0.5 * 9, rel=1e-5)
    assert d["posterior_collapse"] is False and d["warnings"] == []
