"""Negative guidance from a self-consumed model (SIMS, `sampling.negative_guidance`): the steering against a known
answer, the auxiliary saved and loaded with the generation, bad settings in one line, and a run that trains the
auxiliary, records it and resumes exactly."""

import json
import shutil

import pytest
import torch
from hydra import compose, initialize_config_dir

from bench.__main__ import CONF_DIR
from bench.engine.run import run
from bench.errors import BenchError
from bench.models.ddpm import DDPM
from bench.models.flow import Flow
from test_flow import ExactVelocity  # the velocity field of a one-image data set

SHAPE = (1, 28, 28)
TINY = {"channels": (8, 8), "norm_num_groups": 4, "warmup_steps": 1}


def g(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("w", [0.0, 0.5, 1.0])
def test_steering_away_from_the_auxiliary_lands_on_the_extrapolated_image(w):
    # base: the field of image A, auxiliary: that of image B. (1 + w) v_A - w v_B = (x - ((1 + w) A - w B)) / s,
    # the field of the image (1 + w) A - w B: the sampler must land there, exactly
    a, b = torch.full((1, 1, 28, 28), 0.25), torch.full((1, 1, 28, 28), 0.05)  # no pixel near a rounding edge
    model = Flow(image_shape=SHAPE, **TINY)
    model.unet = ExactVelocity(a)
    model.set_auxiliary(ExactVelocity(b))
    images = model.sample(2, generator=g(0), steps=4, negative_guidance=w)
    expected = (((1 + w) * a - w * b + 1) * 127.5).round().to(torch.uint8)
    assert torch.equal(images, expected.expand(2, -1, -1, -1))


def test_the_auxiliary_is_saved_and_loaded_with_the_model():
    model = Flow(image_shape=SHAPE, **TINY)
    model.set_auxiliary(Flow(image_shape=SHAPE, **TINY).unet)
    state = model.state_dict()
    assert any(k.startswith("auxiliary_unet.") for k in state)
    again = Flow(image_shape=SHAPE, **TINY)
    again.load_state_dict(state)
    assert again.auxiliary is not None
    assert torch.equal(again.sample(2, generator=g(3), steps=2, negative_guidance=1.0),
                       model.sample(2, generator=g(3), steps=2, negative_guidance=1.0))  # fmt: skip
    # a model without one loads as before, and its copy for fine-tuning carries no auxiliary
    assert Flow(image_shape=SHAPE, **TINY).auxiliary is None
    assert model.auxiliary_copy().auxiliary is None


@pytest.mark.parametrize("cls", [Flow, DDPM])
@pytest.mark.parametrize(
    "setting, message",
    [
        ({"negative_guidance": -0.5}, "sampling.negative_guidance=-0.5 must be a finite number >= 0"),
        ({"negative_guidance": float("inf")}, "sampling.negative_guidance=inf must be a finite number >= 0"),
        ({"negative_guidance": 1.0}, "sampling.negative_guidance=1.0 needs the generation's auxiliary model"),
    ],
)
def test_bad_negative_guidance_is_one_line(cls, setting, message):
    model = cls(image_shape=SHAPE if cls is Flow else (1, 8, 8), **TINY)
    with pytest.raises(BenchError) as e:
        model.sample(1, generator=g(0), **setting)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_negative_guidance_is_not_combined_with_class_guidance():
    model = Flow(image_shape=SHAPE, num_classes=10, conditional=True, **TINY)
    with pytest.raises(BenchError, match=r"combine one guidance at a time"):
        model.sample(1, generator=g(0), negative_guidance=1.0, guidance=2.0)


TINY_RUN = [
    "model=flow",
    "model.channels=[8,8]",
    "model.norm_num_groups=4",
    "model.auxiliary_steps=3",
    "data.n_train=200",
    "loop=augment",
    "loop.generations=2",
    "trainer.max_steps=3",
    "trainer.batch_size=32",
    "trainer.enable_progress_bar=false",
    "sampling.steps=2",
    "sampling.negative_guidance=1.0",
    "metrics.n_samples=200",
    "metrics.n_reference=400",
    "metrics.kid_subset_size=100",
    "metrics.kid_subsets=10",
]


def cfg(run_dir, *extra):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=[*TINY_RUN, f"run_dir={run_dir}", *extra])


@pytest.mark.slow
def test_a_negatively_guided_run_trains_saves_and_resumes_its_auxiliary_exactly(tmp_path):
    from diffusers import UNet2DModel

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run(cfg(whole))
    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "gen_001")
    run(cfg(cut))
    rows = [json.loads((d / "results.json").read_text())["generations"] for d in (whole, cut)]
    assert [r["metrics"] for r in rows[0]] == [r["metrics"] for r in rows[1]]
    assert [r["auxiliary"]["steps"] for r in rows[0]] == [3, 3]
    assert rows[0][1]["auxiliary"]["own_samples"] == 400, "|D_1| = D_0 + S_0 under augment"
    state = torch.load(whole / "gen_001" / "model.pt", weights_only=True)
    aux = UNet2DModel.from_pretrained(whole / "gen_001" / "diffusers", subfolder="auxiliary_unet")
    ours = {k.removeprefix("auxiliary_unet."): v for k, v in state.items() if k.startswith("auxiliary_unet.")}
    assert ours and all(torch.equal(ours[k], v) for k, v in aux.state_dict().items())
    assert not all(torch.equal(state[f"unet.{k}"], v) for k, v in ours.items()), "fine-tuned: not the base model"


def test_the_models_without_an_auxiliary_refuse_the_setting(tmp_path):
    from conftest import tiny_overrides

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        vae = compose(
            "config",
            overrides=[*tiny_overrides(), "model=vae", "+sampling.negative_guidance=1.0", f"run_dir={tmp_path}"],
        )
    with pytest.raises(BenchError, match=r"sampling\.negative_guidance is not a setting of model vae"):
        run(vae)
    assert not list(tmp_path.glob("gen_*"))
