"""`sampling.t_min`: the smallest time the diffusion and flow samplers reach (the reverse process's truncation, which
arXiv 2606.13796 finds drives collapse by itself): a setting of its own, one override to sweep, exact times."""

import pytest
import torch

from bench.errors import BenchError
from bench.models.ddpm import DDPM
from bench.models.flow import Flow

SHAPE = (1, 28, 28)
TINY_FLOW = {"channels": (8, 8), "norm_num_groups": 4, "warmup_steps": 1}
TINY_UNET = {"channels": (8, 8), "norm_num_groups": 4, "warmup_steps": 1}


class Spy(torch.nn.Module):
    """A network that records the times it is called at and returns `value(x, t)`."""

    def __init__(self, value):
        super().__init__()
        self.times: list[float] = []
        self.value = value

    def forward(self, x, t, class_labels=None):
        self.times.append(float(torch.as_tensor(t).reshape(-1)[0]))
        return type("Out", (), {"sample": self.value(x, t)})()


def g(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_the_flow_stops_at_t_min_exactly_and_jumps_from_there(shift):
    model = Flow(image_shape=SHAPE, **TINY_FLOW)
    target = torch.full((1, 1, 28, 28), -1.0)
    target[..., 8:20, 12:16] = 0.5
    # the exact velocity of a one-image data set: any truncation still lands on the image (straight paths)
    model.unet = Spy(lambda x, t: (x - target) / (torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1, 1, 1) / 1000))
    images = model.sample(2, generator=g(0), steps=5, shift=shift, t_min=0.2)
    assert model.unet.times[0] == pytest.approx(1000.0) and model.unet.times[-1] == pytest.approx(200.0, abs=1e-3)
    assert len(model.unet.times) == 5
    expected = ((target + 1) * 127.5).round().to(torch.uint8)
    assert torch.equal(images, expected.expand(2, -1, -1, -1))


def test_the_flows_default_is_the_schedulers_own():
    model = Flow(image_shape=SHAPE, **TINY_FLOW)
    model.unet = Spy(lambda x, t: torch.zeros_like(x))
    model.sample(1, generator=g(0), steps=4)
    assert model.unet.times[-1] == pytest.approx(1.0), "diffusers' schedule ends at 1/1000 of the time scale"


def test_a_truncated_flow_sample_is_the_denoised_estimate_at_t_min():
    # with v = 0.2 x each Euler step scales x by (1 - 0.2 dt) and the last jump by (1 - 0.2 t_min): where the
    # schedule stops changes the images, and the same seed and t_min give the same ones
    model = Flow(image_shape=SHAPE, **TINY_FLOW)
    model.unet = Spy(lambda x, t: 0.2 * x)
    a = model.sample(3, generator=g(1), steps=4, t_min=0.05)
    b = model.sample(3, generator=g(1), steps=4, t_min=0.5)
    again = model.sample(3, generator=g(1), steps=4, t_min=0.05)
    assert torch.equal(a, again) and not torch.equal(a, b)


def test_the_ddpm_stops_at_t_mins_timestep():
    model = DDPM(image_shape=(1, 8, 8), **TINY_UNET)
    model.unet = Spy(lambda x, t: torch.zeros_like(x))
    images = model.sample(2, generator=g(0), steps=10, t_min=0.05)
    assert model.unet.times[0] == 999 and model.unet.times[-1] == 50 and len(model.unet.times) == 10
    assert images.dtype == torch.uint8 and images.shape == (2, 1, 8, 8)


@pytest.mark.parametrize(
    "cls, setting, message",
    [
        (Flow, {"t_min": 1.0}, "sampling.t_min=1.0 must be null or a number in [0, 1)"),
        (Flow, {"t_min": -0.1}, "sampling.t_min=-0.1 must be null or a number in [0, 1)"),
        (Flow, {"t_min": 0.0}, "sampling.t_min=0.0 must be above 0 for the flow"),
        (Flow, {"t_min": 0.1, "sampler": "heun"}, "sampling.t_min=0.1 needs sampling.sampler=euler"),
        (DDPM, {"t_min": 0.1, "sampler": "ddim"}, "sampling.t_min=0.1 needs sampling.sampler=ddpm"),
        (DDPM, {"t_min": 0.9, "steps": 200}, "sampling.steps=200 exceeds the 100 timesteps from sampling.t_min=0.9"),
        (Flow, {"t_min": 0.2, "steps": 1}, "sampling.t_min=0.2 needs sampling.steps >= 2"),
        (DDPM, {"t_min": 0.2, "steps": 1}, "sampling.t_min=0.2 needs sampling.steps >= 2"),
    ],
)
def test_bad_truncations_are_one_line(cls, setting, message):
    shape = SHAPE if cls is Flow else (1, 8, 8)
    with pytest.raises(BenchError) as e:
        cls(image_shape=shape, **TINY_FLOW).sample(1, generator=g(0), **setting)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_sweep_over_t_min_is_one_override(tmp_path):
    from hydra import compose, initialize_config_dir

    from bench.__main__ import CONF_DIR
    from bench.models.factory import sampling_settings

    for model in ("flow", "ldm", "ddpm"):
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            cfg = compose("config", overrides=[f"model={model}", "sampling.t_min=0.1", f"run_dir={tmp_path}"])
        assert sampling_settings(cfg)["t_min"] == 0.1
