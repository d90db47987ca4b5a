"""Flow matching (model=flow) and latent flow matching (model=ldm): the objective and the sampler against known
answers, seeded sampling, conditioning, diffusers checkpoints, the frozen and retrained autoencoder, and a
two-generation run through the CLI that resumes exactly after kill -9.

Tiny networks (8 channels, two sampling steps) keep every test to seconds on 2 cores.
"""

import itertools
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import OmegaConf

from bench.engine.train import fit
from bench.errors import BenchError
from bench.models import unet_parts
from bench.models.flow import Flow
from bench.models.ldm import LatentFlow
from conftest import kill_after_first_generation

REPO = Path(__file__).resolve().parents[1]
SHAPE = (1, 28, 28)
TINY_FLOW = {"channels": (8, 8), "norm_num_groups": 4, "warmup_steps": 1}
TINY_LDM = {**TINY_FLOW, "autoencoder_channels": (8, 8), "autoencoder_steps": 2, "latent_channels": 2}
TRAINER = OmegaConf.create(
    {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": -1,
        "max_steps": 2,
        "batch_size": 8,
        "precision": "32-true",
        "gradient_clip_val": 1.0,
        "enable_progress_bar": False,
        "deterministic": True,
        "logger": None,
        "callbacks": [],
    }
)


def g(seed):
    return torch.Generator().manual_seed(seed)


class ExactVelocity(torch.nn.Module):
    """The true velocity field when every image is the same `target`: at x_s = (1 - s) c + s e it is e - c,
    i.e. (x_s - c) / s. Euler steps along straight lines are exact, so sampling must land on c."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.target = target

    def forward(self, x, t, class_labels=None):
        s = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1, 1, 1) / 1000
        return type("Out", (), {"sample": (x - self.target) / s})()


@pytest.mark.parametrize("sampler, steps", [("euler", 3), ("euler", 30), ("heun", 4)])
def test_sampling_the_exact_velocity_of_one_image_lands_on_it(sampler, steps):
    model = Flow(image_shape=SHAPE, **TINY_FLOW)
    target = torch.full((1, 1, 28, 28), -1.0)
    target[..., 10:18, 12:16] = 0.6  # a bar, in [-1, 1] pixel units
    model.unet = ExactVelocity(target)
    images = model.sample(4, generator=g(0), sampler=sampler, steps=steps)
    expected = ((target.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    assert images.dtype == torch.uint8 and images.shape == (4, *SHAPE)
    assert torch.equal(images, expected.expand(4, -1, -1, -1)), "the integration runs from noise (s=1) to data (s=0)"


def test_the_loss_is_the_velocity_error_on_the_straight_line():
    """A network that returns e - x0 exactly (it is told e) scores 0; the baseline is the target's spread about its
    batch mean."""
    model = Flow(image_shape=SHAPE, **TINY_FLOW)
    x0 = model.to_space(torch.randint(0, 256, (6, *SHAPE), dtype=torch.uint8))
    gen = g(3)
    noise = torch.randn(x0.shape, generator=g(3), dtype=x0.dtype)  # what flow_loss draws first from the same seed

    class Oracle(torch.nn.Module):
        def forward(self, xs, t, class_labels=None):
            return type("Out", (), {"sample": noise - x0})()

    model.unet = Oracle()
    loss, zero = model.flow_loss(x0, None, generator=gen)
    assert torch.allclose(loss, torch.zeros(6), atol=1e-10)
    v = noise - x0
    assert torch.allclose(zero, (v - v.mean(0)).pow(2).flatten(1).mean(1))


def test_logit_normal_times_sit_mid_path_and_uniform_ones_do_not():
    logit = Flow(image_shape=SHAPE, **TINY_FLOW).draw_times(20000, device="cpu", generator=g(0))
    uniform = Flow(image_shape=SHAPE, time_sampling="uniform", **TINY_FLOW).draw_times(
        20000, device="cpu", generator=g(0)
    )
    assert logit.min() > 0 and logit.max() < 1 and abs(logit.mean() - 0.5) < 0.01
    # sigmoid of N(0, 1): P(0.25 < s < 0.75) = P(|z| < logit(0.75) = 1.0986) = 0.728; uniform: 0.5
    assert abs(((logit > 0.25) & (logit < 0.75)).float().mean() - 0.728) < 0.015
    assert abs(((uniform > 0.25) & (uniform < 0.75)).float().mean() - 0.5) < 0.015


@pytest.mark.parametrize("cls, kw", [(Flow, TINY_FLOW), (LatentFlow, TINY_LDM)])
def test_training_moves_the_weights_and_sampling_is_seeded_uint8(cls, kw, mnist):
    torch.manual_seed(0)
    model = cls(image_shape=SHAPE, **kw)
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    fit(model, mnist.train_images[:16], trainer_cfg=TRAINER, seed=0)
    assert any(not torch.equal(before[k], v) for k, v in model.unet.state_dict().items())
    a = model.sample(3, generator=g(1), steps=2)
    b = model.sample(3, generator=g(1), steps=2, batch_size=2)
    assert a.dtype == torch.uint8 and a.shape == (3, *SHAPE)
    assert torch.equal(a, b), "same generator, same images, whatever the batch size"
    d = model.diagnostics(mnist.train_images[:8])
    assert d["untrained"] is True and d["flow_loss_ratio"] > 0.8 and d["warnings"], "two steps train nothing"


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"sampler": "rk4"}, "sampling.sampler='rk4' is not known; allowed: euler, heun"),
        ({"steps": 0}, "sampling.steps"),
        ({"shift": 0}, "sampling.shift=0 must be a number > 0"),
        ({"guidance": 1.0}, "needs a class-conditional model"),
        ({"eta": 0.0}, "sampling.eta is not a setting of model flow"),
    ],
)
def test_bad_sampling_settings_are_one_line(setting, message):
    with pytest.raises(BenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Flow(image_shape=SHAPE, **TINY_FLOW).sample(1, generator=g(0), **setting)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"time_sampling": "beta"}, "model.time_sampling='beta' is not known; allowed: logit_normal, uniform"),
        ({"logit_std": 0}, "model.logit_std=0 must be > 0"),
        ({"autoencoder": "shared"}, "model.autoencoder='shared' is not known; allowed: frozen, retrain"),
        ({"lr_schedule": "linear"}, "model.lr_schedule='linear' is not known; allowed: constant, cosine"),
    ],
)
def test_bad_model_settings_are_one_line(kw, message):
    with pytest.raises(BenchError, match=message):
        LatentFlow(image_shape=SHAPE, **{**TINY_LDM, **kw})


def lrs_over(schedule: str, steps: int) -> list[float]:
    """The learning rate at each of `steps` optimizer steps, as Lightning steps the scheduler (once a step)."""
    opt = unet_parts.optimizer(
        [torch.nn.Parameter(torch.zeros(1))], lr=1.0, warmup_steps=10, schedule=schedule, total_steps=steps
    )
    out = []
    for _ in range(steps):
        out.append(opt["optimizer"].param_groups[0]["lr"])
        opt["optimizer"].step()
        opt["lr_scheduler"]["scheduler"].step()
    return out


def test_the_cosine_schedule_warms_up_then_decays_to_zero_and_constant_stays():
    cosine, constant = lrs_over("cosine", 110), lrs_over("constant", 110)
    # warm-up: linear to the peak at step 10 (cosine from 0, constant from 1/10), then the same peak
    assert cosine[0] == 0 and cosine[5] == pytest.approx(0.5) and cosine[10] == pytest.approx(1.0)
    assert constant[0] == pytest.approx(0.1) and constant[9] == pytest.approx(1.0) and set(constant[9:]) == {1.0}
    # cosine: half the peak halfway through the decay (step 10 + 100 / 2), near 0 at the last step
    assert cosine[60] == pytest.approx(0.5) and cosine[-1] < 1e-3
    assert all(a >= b for a, b in itertools.pairwise(cosine[10:])), "the decay never rises"
    with pytest.raises(BenchError, match=r"model.lr_schedule=cosine needs trainer.max_steps > 0 \(got -1\)"):
        weights = [torch.nn.Parameter(torch.zeros(1))]
        unet_parts.optimizer(weights, lr=1, warmup_steps=1, schedule="cosine", total_steps=-1)


def test_a_cosine_run_ends_at_a_learning_rate_near_zero_and_a_constant_one_at_its_peak(mnist):
    """trainer.max_steps reaches the schedule through Lightning: the decay ends where training does."""
    ends = {}
    for schedule in ("cosine", "constant"):
        torch.manual_seed(0)
        model = Flow(image_shape=SHAPE, **{**TINY_FLOW, "lr_schedule": schedule, "lr": 1e-3})
        fit(model, mnist.train_images[:16], trainer_cfg=OmegaConf.merge(TRAINER, {"max_steps": 6}), seed=0)
        ends[schedule] = model.trainer.optimizers[0].param_groups[0]["lr"]
    assert ends["cosine"] < 1e-6 and ends["constant"] == pytest.approx(1e-3)


def test_a_sigterm_stops_the_autoencoder_s_training_at_its_next_step(mnist):
    """Lightning's signal connector only records a SIGTERM; its loops check the flag, and so must ours."""
    model = LatentFlow(image_shape=SHAPE, **{**TINY_LDM, "autoencoder_steps": 1000})
    model._trainer = types.SimpleNamespace(received_sigterm=True, precision="32-true")
    before = {k: v.clone() for k, v in model.vae.state_dict().items()}
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(mnist.train_images[:16], torch.zeros(16)))
    with pytest.raises(SIGTERMException):
        model.train_autoencoder(loader)
    assert all(torch.equal(before[k], v) for k, v in model.vae.state_dict().items()), "not one step taken"


def test_conditional_guided_sampling_draws_the_given_labels(mnist):
    torch.manual_seed(0)
    model = Flow(image_shape=SHAPE, num_classes=10, conditional=True, **TINY_FLOW)
    labels = torch.arange(10) % 10
    fit(model, mnist.train_images[:16], labels=mnist.train_labels[:16], trainer_cfg=TRAINER, seed=0)
    plain = model.sample(10, generator=g(0), labels=labels, steps=2)
    guided = model.sample(10, generator=g(0), labels=labels, steps=2, guidance=2.0)
    assert plain.shape == guided.shape and not torch.equal(plain, guided)


def test_a_frozen_autoencoder_is_taken_over_and_a_retrained_one_is_not(mnist):
    torch.manual_seed(0)
    first = LatentFlow(image_shape=SHAPE, **TINY_LDM)
    fit(first, mnist.train_images[:16], trainer_cfg=TRAINER, seed=0)
    assert first.latent_scale > 0
    state = first.state_dict()
    for mode, kept in (("frozen", True), ("retrain", False)):
        torch.manual_seed(1)
        later = LatentFlow(image_shape=SHAPE, **{**TINY_LDM, "autoencoder": mode})
        later.inherit(state)
        fit(later, mnist.train_images[16:32], trainer_cfg=TRAINER, seed=1)
        same = all(torch.equal(v, later.vae.state_dict()[k]) for k, v in first.vae.state_dict().items())
        assert same is kept, mode
        assert torch.equal(later.latent_scale, first.latent_scale) is kept


def test_the_latent_cache_draws_what_encoding_each_batch_draws(mnist):
    """The flow trains on latents drawn from D_t's posteriors encoded once; with the same global seed a batch's
    draws equal encoding it then sampling (AutoencoderKL's own path), duplicates share a row, and an image that is
    not in D_t is a KeyError rather than a silent wrong latent."""
    from bench.models.ldm import LatentCache

    torch.manual_seed(0)
    model = LatentFlow(image_shape=SHAPE, **TINY_LDM)
    model.latent_scale.fill_(0.7)
    images = torch.cat([mnist.train_images[:20], mnist.train_images[:3]])  # three images twice
    cache = LatentCache(images, lambda b: model.vae.encode(model.images_to_unit(b)).latent_dist)
    assert len(cache.index) == 20 and len(cache.mean) == 23
    model.latent_cache = cache
    batch = images[torch.tensor([22, 5, 0, 13, 2])]
    torch.manual_seed(3)
    cached = model.training_space(batch)
    torch.manual_seed(3)
    with torch.no_grad():
        encoded = model.to_space(batch)
    torch.testing.assert_close(cached, encoded, rtol=1e-5, atol=1e-5)
    with pytest.raises(KeyError):
        cache.sample(mnist.train_images[30:31])


def test_fit_encodes_the_training_set_once_and_lets_it_go(mnist, monkeypatch):
    model = LatentFlow(image_shape=SHAPE, **TINY_LDM)
    calls = []
    real_encode = model.encode_training_set
    monkeypatch.setattr(model, "encode_training_set", lambda images: calls.append(len(images)) or real_encode(images))
    fit(model, mnist.train_images[:16], trainer_cfg=TRAINER, seed=0)
    assert calls == [16] and model.latent_cache is None


TINY_RUN = [
    "model=ldm",
    "model.channels=[8,8]",
    "model.norm_num_groups=4",
    "model.autoencoder_channels=[8,8]",
    "model.autoencoder_steps=3",
    "data.n_train=200",
    "loop.generations=2",
    "trainer.max_steps=3",
    "trainer.batch_size=32",
    "trainer.enable_progress_bar=false",
    "sampling.steps=2",
    "metrics.n_samples=200",
    "metrics.n_reference=400",
    "metrics.kid_subset_size=100",
    "metrics.kid_subsets=10",
]


def cli(*args, **kw):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO, env=env, **kw)


@pytest.mark.slow
def test_two_generation_ldm_run_resumes_exactly_after_kill_9_and_saves_in_diffusers_format(tmp_path):
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, UNet2DModel

    reference, killed = tmp_path / "reference", tmp_path / "killed"
    proc = cli(*TINY_RUN, f"hydra.run.dir={reference}", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-2000:]

    kill_after_first_generation(TINY_RUN, killed, cwd=REPO)
    assert not (killed / "gen_001").exists(), "the kill should land mid-run"
    proc = cli(*TINY_RUN, f"hydra.run.dir={killed}", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-2000:]
    assert "resuming" in out

    def rows(d):
        return [
            (r["metrics"], r["counts"], r["diagnostics"])
            for r in json.loads((d / "results.json").read_text())["generations"]
        ]

    assert rows(killed) == rows(reference)
    assert np.array_equal(np.load(killed / "gen_001" / "samples.npy"), np.load(reference / "gen_001" / "samples.npy"))
    results = json.loads((reference / "results.json").read_text())
    assert results["config"]["model"]["autoencoder"] == "frozen", "results record which autoencoder mode ran"

    # frozen: generation 1 decodes with generation 0's autoencoder, and both load in diffusers
    path0, path1 = (reference / f"gen_00{t}" / "diffusers" for t in (0, 1))
    vae0, vae1 = (AutoencoderKL.from_pretrained(p, subfolder="vae") for p in (path0, path1))
    assert all(torch.equal(v, vae1.state_dict()[k]) for k, v in vae0.state_dict().items())
    state = torch.load(reference / "gen_001" / "model.pt", weights_only=True)
    assert vae1.config.scaling_factor == pytest.approx(float(state["latent_scale"]))
    unet = UNet2DModel.from_pretrained(path1, subfolder="unet")
    ours = {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.")}
    assert all(torch.equal(ours[k], v) for k, v in unet.state_dict().items())
    assert FlowMatchEulerDiscreteScheduler.from_pretrained(path1, subfolder="scheduler").config.shift == 1.0


def test_the_ldm_cpu_preset_is_the_ldm_model_with_less_training_and_trains_a_step(mnist):
    """experiment=ldm_cpu (the reproductions' diffusion arms) changes how long each part trains and samples,
    nothing else: the same model class and architecture as model=ldm, fewer steps of each."""
    from hydra import compose, initialize_config_dir

    from bench.__main__ import CONF_DIR
    from bench.models.factory import build_model, sampling_settings

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        full = compose("config", overrides=["model=ldm", "run_dir=unused"])
        cut = compose("config", overrides=["model=ldm", "experiment=ldm_cpu", "run_dir=unused"])
    assert cut.model.autoencoder_steps < full.model.autoencoder_steps
    assert cut.trainer.max_steps < full.trainer.max_steps and cut.sampling.steps < full.sampling.steps
    shorter = {"autoencoder_steps": None}
    assert {**cut.model, **shorter} == {**full.model, **shorter}, "only the schedule's length differs"
    trainer = OmegaConf.merge(cut.trainer, {"accelerator": "cpu", "max_steps": 1, "batch_size": 4, "logger": None})
    torch.manual_seed(0)
    model_cfg = OmegaConf.merge(cut.model, {"autoencoder_steps": 1})
    model = build_model(model_cfg, image_shape=mnist.image_shape, num_classes=10, class_shares=[0.1] * 10)
    fit(model, mnist.train_images[:4], trainer_cfg=trainer, seed=0)
    sampling = {**sampling_settings(cut), "steps": 2, "batch_size": 2}
    assert model.sample(2, generator=torch.Generator().manual_seed(0), **sampling).shape == (2, *mnist.image_shape)
