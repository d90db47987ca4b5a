"""The DDPM: training, seeded sampling through diffusers' schedulers, conditioning and guidance, diffusers checkpoints,
resampling a saved generation, the health gate, and a two-generation run through the CLI that resumes exactly.

Tiny UNets (8 channels, two sampling steps) keep every test to seconds on 2 cores.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from bench.cli.resample import main as resample_main
from bench.cli.resample import parse_overrides, resample
from bench.engine.run import run
from bench.engine.train import fit
from bench.errors import BenchError
from bench.models.ddpm import DDPM
from conftest import kill_after_first_generation

REPO = Path(__file__).resolve().parents[1]
TINY_UNET = {"channels": (8, 8), "norm_num_groups": 4, "warmup_steps": 1}
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
# a run small enough for seconds per generation: 8-channel UNet, 5 training steps, 2 DDIM steps
TINY_RUN = [
    "model=ddpm",
    "model.channels=[8,8]",
    "model.norm_num_groups=4",
    "data.n_train=200",
    "loop.generations=2",
    "trainer.max_steps=5",
    "trainer.batch_size=32",
    "trainer.enable_progress_bar=false",
    "sampling.steps=2",
    "metrics.n_samples=200",
    "metrics.n_reference=400",
    "metrics.kid_subset_size=100",
    "metrics.kid_subsets=10",
]


def g(seed):
    return torch.Generator().manual_seed(seed)


def test_a_training_step_lowers_nothing_to_nan_and_moves_the_ema_weights():
    torch.manual_seed(0)
    model = DDPM(image_shape=(1, 8, 8), **TINY_UNET)
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    images = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8)
    fit(model, images, trainer_cfg=TRAINER, seed=0)
    after = model.unet.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "training must change the (averaged) weights"
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    assert model.ema is None, "after training the UNet holds the EMA weights; the average is not kept twice"


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_is_uint8_of_the_data_shape_and_seeded(sampler):
    torch.manual_seed(0)
    model = DDPM(image_shape=(3, 10, 14), **TINY_UNET)  # odd sizes are padded for the UNet and cropped back
    kw = {"sampler": sampler, "steps": 2, "eta": 1.0 if sampler == "ddim" else 0.0}
    a, b, c = (
        model.sample(5, generator=g(1), **kw),
        model.sample(5, generator=g(1), **kw),
        model.sample(5, generator=g(2), **kw),
    )
    assert a.dtype == torch.uint8 and tuple(a.shape) == (5, 3, 10, 14)
    assert torch.equal(a, b), "the same generator gives the same images"
    assert not torch.equal(a, c), "another generator gives other images"
    # batches do not change the draw's shape or type, and n=0 checks the settings only
    assert model.sample(0, generator=g(1), **kw).shape == (0, 3, 10, 14)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"sampler": "euler"}, "sampling.sampler='euler' is not known; allowed: ddim, ddpm"),
        ({"steps": 0}, "sampling.steps=0 must be a positive integer"),
        ({"steps": 1001}, "sampling.steps=1001 exceeds model.num_train_timesteps=1000"),
        ({"eta": 2}, "sampling.eta=2 is outside the allowed range [0, 1]"),
        ({"guidance": 2.0}, "sampling.guidance=2.0 needs a class-conditional model"),
        ({"temperature": 0.5}, "sampling.temperature is not a setting of model ddpm; allowed:"),
        ({"clip_sample": "yes"}, "sampling.clip_sample='yes' must be true or false"),
        ({"precision": "fp8"}, "sampling.precision='fp8' is not known; allowed: fp32, bf16, auto"),
    ],
)
def test_bad_sampling_settings_are_one_line(setting, message):
    model = DDPM(image_shape=(1, 8, 8), **TINY_UNET)
    with pytest.raises(BenchError) as e:
        model.sample(0, generator=g(0), **setting)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_conditional_samples_carry_the_asked_labels_and_guidance_changes_them():
    """Two classes a model can learn in seconds: class 0 dark images, class 1 bright ones."""
    torch.manual_seed(0)
    unet = {**TINY_UNET, "channels": (16, 16)}
    model = DDPM(image_shape=(1, 8, 8), num_classes=2, conditional=True, label_dropout=0.2, lr=3e-3, **unet)
    labels = torch.arange(256) % 2
    images = torch.where(labels[:, None, None, None] == 1, 230, 25).to(torch.uint8).expand(256, 1, 8, 8).clone()
    images = (images.int() + torch.randint(-20, 21, images.shape)).clamp(0, 255).to(torch.uint8)
    fit(
        model, images, labels=labels, trainer_cfg=OmegaConf.merge(TRAINER, {"max_steps": 300, "batch_size": 32}), seed=0
    )
    assert model.label_counts.tolist() == [128, 128], "the training set's label frequencies are recorded"

    asked = torch.tensor([0, 1] * 8)
    out = model.sample(16, generator=g(0), labels=asked, steps=10)
    brightness = out.float().mean(dim=(1, 2, 3))
    assert (brightness[asked == 1] > 128).all() and (brightness[asked == 0] < 128).all(), brightness
    guided = model.sample(16, generator=g(0), labels=asked, steps=10, guidance=3.0)
    assert not torch.equal(guided, out), "guidance w > 0 changes the samples"
    assert (guided.float().mean(dim=(1, 2, 3))[asked == 1] > 128).all()

    # labels drawn by class balance: `real` follows the real shares handed to the model
    model.hparams.class_shares = [1.0, 0.0]
    real = model.sample(8, generator=g(3), steps=10, class_balance="real")
    assert (real.float().mean(dim=(1, 2, 3)) < 128).all(), "real shares of (1, 0) ask for class 0 only"


def test_diagnostics_flag_an_untrained_model():
    d = DDPM(image_shape=(1, 8, 8), **TINY_UNET).diagnostics(torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8))
    assert d["untrained"] is True and d["denoising_mse"] > 0.5 and "untrained" in d["warnings"][0]


def tiny_cfg(run_dir, *overrides):
    from hydra import compose, initialize_config_dir

    from bench.__main__ import CONF_DIR

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=[*TINY_RUN, f"run_dir={run_dir}", *overrides])


@pytest.fixture(scope="module")
def one_generation(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddpm_run")
    return run_dir, run(tiny_cfg(run_dir, "loop.generations=1"))


def test_an_undertrained_generation_zero_is_flagged_as_unhealthy(one_generation):
    _, results = one_generation
    gen0 = results["generations"][0]
    assert gen0["healthy"] is False
    assert any("fails the health gate" in w for w in gen0["warnings"])
    assert results["evaluation"]["sampling"]["steps"] == 2 and gen0["sampling"]["sampler"] == "ddpm"


def test_generation_checkpoint_loads_in_diffusers(one_generation):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    run_dir, _ = one_generation
    path = run_dir / "gen_000" / "diffusers"
    unet = UNet2DModel.from_pretrained(path, subfolder="unet")
    scheduler = DDPMScheduler.from_pretrained(path, subfolder="scheduler")
    state = torch.load(run_dir / "gen_000" / "model.pt", weights_only=True)
    ours = {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.")}
    assert all(torch.equal(ours[k], v) for k, v in unet.state_dict().items()), "the same (EMA) weights"
    assert scheduler.config.num_train_timesteps == 1000
    pipe = DDPMPipeline.from_pretrained(path)
    images = pipe(batch_size=1, num_inference_steps=2, generator=g(0), output_type="np").images
    assert images.shape == (1, 28, 28, 1)


def test_resampling_reproduces_the_run_and_writes_beside_it(one_generation):
    run_dir, results = one_generation
    original = {p: p.stat().st_mtime_ns for p in (run_dir / "gen_000").iterdir() if p.is_file()}
    same = resample(run_dir, 0, {})
    assert same["metrics"] == results["generations"][0]["metrics"], "unchanged settings give the run's own scores"
    run_samples = np.load(run_dir / "gen_000" / "samples.npy")[:200]
    assert np.array_equal(np.load(run_dir / "gen_000" / "resampled" / "as_run" / "samples.npy"), run_samples)

    assert resample_main([str(run_dir), "generation=0", "sampling.steps=4", "sampling.sampler=ddim"]) == 0
    out = run_dir / "gen_000" / "resampled" / "sampler=ddim,steps=4"
    record = json.loads((out / "record.json").read_text())
    assert record["sampling"]["steps"] == 4 and record["changed"] == {"sampler": "ddim", "steps": 4}
    assert record["metrics"]["fid"] != results["generations"][0]["metrics"]["fid"]
    assert (out / "samples.png").is_file()
    assert original == {p: p.stat().st_mtime_ns for p in (run_dir / "gen_000").iterdir() if p.is_file()}, (
        "the original generation is never written over"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["generation=x"], "generation='x' must be a generation number"),
        (["generation=0", "model.channels=[4]"], "'model.channels' cannot be changed by resampling"),
        (["sampling.steps=4"], "which generation? add generation=T"),
    ],
)
def test_resample_bad_arguments_are_one_line(args, message):
    with pytest.raises(BenchError, match=message.replace("[", r"\[").replace("?", r"\?")):
        parse_overrides(args)


def test_resample_refuses_unfinished_generations_and_bad_settings(one_generation):
    run_dir, _ = one_generation
    with pytest.raises(BenchError, match=r"generation 3 of .* is not finished"):
        resample(run_dir, 3, {})
    with pytest.raises(BenchError, match=r"sampling.eta=5 is outside the allowed range"):
        resample(run_dir, 0, {"eta": 5})


def cli(*args, **kw):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO, env=env, **kw)


@pytest.mark.slow
def test_two_generation_ddpm_run_resumes_exactly_after_kill_9(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    proc = cli(*TINY_RUN, f"hydra.run.dir={reference}", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-2000:]
    assert "gen 1/1" in out

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


@pytest.mark.parametrize("preset", ["ddpm_cpu", "ddpm_gpu"])
def test_presets_build_and_train_one_step_on_the_cpu(preset, mnist):
    from hydra import compose, initialize_config_dir

    from bench.__main__ import CONF_DIR
    from bench.models.factory import build_model, sampling_settings

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"experiment={preset}", "run_dir=unused"])
    assert cfg.model.name == "ddpm" and cfg.trainer.max_steps > 0, "a DDPM preset trains by steps"
    trainer = OmegaConf.merge(cfg.trainer, {"accelerator": "cpu", "max_steps": 1, "batch_size": 4, "logger": None})
    torch.manual_seed(0)
    model = build_model(cfg.model, image_shape=mnist.image_shape, num_classes=10, class_shares=[0.1] * 10)
    fit(model, mnist.train_images[:4], trainer_cfg=trainer, seed=0)
    sampling = {**sampling_settings(cfg), "steps": 2, "batch_size": 2}
    assert model.sample(2, generator=g(0), **sampling).shape == (2, *mnist.image_shape)


class ZeroUNet(torch.nn.Module):
    """A UNet that predicts 0 everywhere: its loss is the mean square of the training target itself."""

    def forward(self, x, t, class_labels=None):
        return type("Out", (), {"sample": torch.zeros_like(x)})()


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_the_training_target_is_the_noise_or_v(prediction_type):
    model = DDPM(image_shape=(1, 8, 8), prediction_type=prediction_type, **TINY_UNET)
    model.unet = ZeroUNet()
    x0 = torch.rand(64, 1, 8, 8) * 2 - 1
    # the draws denoising_loss makes from this generator: noise, then timesteps
    gen = g(0)
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.randint(0, 1000, (64,), generator=gen)
    acp = model.scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    # v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0 (Salimans & Ho 2022, eq. in their appendix D)
    target = noise if prediction_type == "epsilon" else acp.sqrt() * noise - (1 - acp).sqrt() * x0
    expected = (target**2).flatten(1).mean(1)
    assert torch.allclose(model.denoising_loss(x0, None, generator=g(0)), expected, atol=1e-6)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_min_snr_weights_are_min_snr_gamma_over_snr(prediction_type):
    model = DDPM(image_shape=(1, 8, 8), prediction_type=prediction_type, snr_gamma=5.0, **TINY_UNET)
    t = torch.tensor([0, 100, 999])
    acp = model.scheduler.alphas_cumprod[t].double()
    snr = acp / (1 - acp)  # SNR_t = abar_t / (1 - abar_t)
    expected = snr.clamp(max=5.0) / (snr if prediction_type == "epsilon" else snr + 1)
    assert torch.allclose(model.snr_weights(t).double(), expected, rtol=1e-4)
    # early (clean) timesteps are weighted down to gamma / SNR; late ones keep weight 1 (eps) or SNR / (SNR + 1) (v)
    assert model.snr_weights(t)[0] < 1e-3
    # the training step uses the weights; the health diagnostics do not
    model.unet = ZeroUNet()
    x0 = torch.rand(8, 1, 8, 8) * 2 - 1
    plain = model.denoising_loss(x0, None, generator=g(1))
    weighted = model.denoising_loss(x0, None, generator=g(1), weighted=True)
    assert (weighted <= plain + 1e-7).all() and not torch.allclose(weighted, plain)


def test_a_v_prediction_model_with_min_snr_learns_and_samples_its_data():
    """Bright 8 x 8 images: a v-prediction model samples bright images (a sampler that read v as noise would not)."""
    torch.manual_seed(0)
    model = DDPM(image_shape=(1, 8, 8), prediction_type="v_prediction", snr_gamma=5.0, lr=3e-3, **TINY_UNET)
    images = (torch.full((256, 1, 8, 8), 220) + torch.randint(-20, 21, (256, 1, 8, 8))).to(torch.uint8)
    fit(model, images, trainer_cfg=OmegaConf.merge(TRAINER, {"max_steps": 200, "batch_size": 32}), seed=0)
    for sampler in ("ddpm", "ddim"):
        out = model.sample(16, generator=g(0), sampler=sampler, steps=20)
        assert out.float().mean() > 160, (sampler, out.float().mean())


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"prediction_type": "sample"}, "model.prediction_type='sample' is not known; allowed: epsilon, v_prediction"),
        ({"snr_gamma": 0}, "model.snr_gamma=0 must be a positive number"),
        ({"snr_gamma": "5"}, "model.snr_gamma='5' must be a positive number"),
    ],
)
def test_bad_training_objectives_are_one_line(setting, message):
    with pytest.raises(BenchError) as e:
        DDPM(image_shape=(1, 8, 8), **setting, **TINY_UNET)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
