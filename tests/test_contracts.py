"""Contract tests parametrised over the config folders: a new YAML in conf/ is tested the moment it exists.

Nothing to register: `conf/model/*.yaml`, `conf/loop/*.yaml`, `conf/data/*.yaml` and `conf/experiment/*.yaml`
are globbed at collection time. Sizes are tiny (a few images, one training step); see docs/contributing.md.
"""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.__main__ import CHECKED_GROUPS, CONF_DIR, check_group_choices, group_options
from bench.build import build
from bench.data import build_data
from bench.errors import BenchError
from bench.loops import Loop, LoopContext, TrainingSet
from bench.models.base import GenerativeModel, check_diagnostics, check_model, check_sampling
from bench.models.factory import build_model

REPO = Path(__file__).resolve().parents[1]


def options(group: str) -> list[str]:
    return group_options(group)


MODELS, LOOPS, DATA, EXPERIMENTS = (options(g) for g in ("model", "loop", "data", "experiment"))
# few images, one optimiser step, a handful of sampling steps: the contract, not the quality
N_IMAGES, N_SAMPLES, FEW_STEPS = 4, 3, 2


def compose_cfg(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=["run_dir=unused", *overrides])


@functools.cache
def load_data(name: str):
    """A data set built from its config, once per session; None when it cannot be had offline."""
    # no download attempts in tests: a data set that needs files it lacks must stop in one line
    cfg = compose_cfg(
        f"data={name}", *(["data.download=false"] if "download" in compose_cfg(f"data={name}").data else [])
    )
    try:
        return build_data(cfg.data)
    except BenchError as e:
        return e


def data_shapes() -> list[tuple[str, tuple[int, int, int]]]:
    shapes = {}
    for name in DATA:
        data = load_data(name)
        if not isinstance(data, BenchError):
            shapes.setdefault(tuple(data.image_shape), name)
    return [(name, shape) for shape, name in shapes.items()]


def sampling_settings(cfg) -> dict:
    """The composed `sampling` node (if the config has one), with any step count cut to FEW_STEPS."""
    node = cfg.get("sampling")
    sampling = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    for key in ("steps", "num_inference_steps"):
        if key in sampling:
            sampling[key] = FEW_STEPS
    return {k: v for k, v in sampling.items() if k not in ("name", "_target_")}


# models


@pytest.mark.parametrize("model_name", MODELS)
def test_model_meets_the_contract(model_name):
    from bench.engine.train import fit

    shapes = data_shapes()
    assert shapes, "no data set could be loaded offline to take image shapes from"
    for data_name, shape in shapes:
        cfg = compose_cfg(
            f"model={model_name}",
            f"data={data_name}",
            "trainer.max_epochs=1",
            f"trainer.batch_size={N_IMAGES}",
            "trainer.enable_progress_bar=false",
        )
        if cfg.trainer.get("max_steps", -1) > 0:  # a model's recipe may train by steps: one step, as the epoch
            cfg.trainer.max_steps = 1
        for key, value in cfg.model.items():  # and a part it trains in a loop of its own (ldm's autoencoder_steps)
            if str(key).endswith("_steps") and isinstance(value, int) and value > 1:
                cfg.model[key] = 1
        torch.manual_seed(0)
        # what the run injects: the data's shape, and for models that ask, its classes and their real shares
        model = build_model(cfg.model, image_shape=shape, num_classes=10, class_shares=[0.1] * 10)
        check_model(model, cfg.model._target_)
        assert isinstance(model, GenerativeModel)

        images = load_data(data_name).train_images[:N_IMAGES]
        labels = torch.arange(N_IMAGES) % 10
        before = {k: v.clone() for k, v in model.state_dict().items()}
        fit(model, images, labels=labels, trainer_cfg=cfg.trainer, seed=0)
        after = model.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before), f"{model_name}: one step changed nothing"

        sampling = sampling_settings(cfg)
        a = model.sample(N_SAMPLES, generator=torch.Generator().manual_seed(0), **sampling)
        b = model.sample(N_SAMPLES, generator=torch.Generator().manual_seed(0), **sampling)
        c = model.sample(N_SAMPLES, generator=torch.Generator().manual_seed(1), **sampling)
        assert isinstance(a, torch.Tensor) and a.dtype == torch.uint8, f"{model_name}: samples must be uint8"
        assert tuple(a.shape) == (N_SAMPLES, *shape), f"{model_name} on {data_name}: shape {tuple(a.shape)}"
        assert torch.equal(a, b), f"{model_name}: the same generator must give the same samples"
        assert not torch.equal(a, c), f"{model_name}: another generator must give other samples"

        diagnostics = check_diagnostics(model_name, model.diagnostics(images))
        for key, value in diagnostics.items():
            if key != "warnings":
                assert isinstance(value, (int, float, bool, str, type(None))), f"diagnostics[{key!r}] is not a number"


@pytest.mark.parametrize("model_name", MODELS)
def test_model_rejects_an_unknown_sampling_setting(model_name):
    cfg = compose_cfg(f"model={model_name}")
    model = build_model(cfg.model, image_shape=(1, 8, 8), num_classes=10)
    params = inspect.signature(model.sample).parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        pytest.skip(f"model {model_name}.sample takes no **sampling yet (an unknown key is a TypeError there)")
    with pytest.raises(BenchError, match="no_such_setting") as info:
        model.sample(1, generator=torch.Generator().manual_seed(0), no_such_setting=1)
    assert "\n" not in str(info.value)


class _NoSample(torch.nn.Module):
    def diagnostics(self, images):
        return {"warnings": []}


class _NoGenerator(_NoSample):
    def sample(self, n):
        return torch.zeros(n, 1, 2, 2, dtype=torch.uint8)


class _NoDiagnostics(torch.nn.Module):
    def sample(self, n, *, generator, **sampling):
        return torch.zeros(n, 1, 2, 2, dtype=torch.uint8)


class _Complete(_NoDiagnostics):
    def diagnostics(self, images):
        return {"warnings": []}


@pytest.mark.parametrize(
    ("cls", "lacks"),
    [
        (_NoSample, r"lacks sample\(n, \*, generator, \*\*sampling\)"),
        (_NoGenerator, r"\.sample has no generator keyword"),
        (_NoDiagnostics, r"lacks diagnostics\(images\)"),
    ],
)
def test_a_model_missing_part_of_the_contract_fails_in_one_line(cls, lacks):
    with pytest.raises(BenchError, match=lacks) as info:
        check_model(cls(), "bench.models.foo.Foo")
    message = str(info.value)
    assert "\n" not in message and message.startswith("model bench.models.foo.Foo")
    assert "docs/contributing.md" in message
    check_model(_Complete(), "bench.models.foo.Foo")


def test_check_sampling_and_diagnostics_name_the_bad_value():
    assert check_sampling("vae", {"temperature": 0.5}, ["temperature"]) == {"temperature": 0.5}
    with pytest.raises(BenchError, match=r"sampling\.steps is not a setting of model vae; allowed: temperature"):
        check_sampling("vae", {"steps": 5}, ["temperature"])
    with pytest.raises(BenchError, match="warnings"):
        check_diagnostics("vae", {"kl": 1.0})
    with pytest.raises(BenchError, match="not a dict"):
        check_diagnostics("vae", [1.0])


# loops

POOL, N0 = 64, 8


def tiny_context(synthetic_size: int) -> LoopContext:
    # provenance in the pixels: real pool image i has value i (< 255); every synthetic image is 255
    pool = torch.arange(POOL, dtype=torch.uint8).view(POOL, 1, 1, 1).expand(POOL, 1, 2, 2).clone()
    initial_index = torch.randperm(POOL, generator=torch.Generator().manual_seed(0))[:N0]
    return LoopContext(
        seed=0,
        initial=pool[initial_index],
        real_pool=pool,
        initial_index=initial_index,
        synthetic=lambda s: torch.full((synthetic_size, 1, 2, 2), 255, dtype=torch.uint8),
    )


@pytest.mark.parametrize("loop_name", LOOPS)
def test_loop_composes_generations_0_to_2_with_counts_that_add_up(loop_name):
    cfg = compose_cfg(f"loop={loop_name}", f"data.n_train={N0}", "loop.generations=3")
    loop = build(cfg.loop)
    assert isinstance(loop, Loop)
    loop.check_sizes(n_initial=N0, n_pool=POOL)
    ctx = tiny_context(loop.synthetic_size)
    for t in range(3):
        ts = loop.training_set(t, ctx)
        assert isinstance(ts, TrainingSet)
        assert ts.images.dtype == torch.uint8 and tuple(ts.images.shape[1:]) == (1, 2, 2)
        synthetic = int((ts.images[:, 0, 0, 0] == 255).sum())
        assert (ts.n_real, ts.n_synthetic) == (len(ts.images) - synthetic, synthetic), f"gen {t}: {ts.sources}"
        assert ts.sources, "a training set says where its images came from"
        if t == 0:
            assert torch.equal(ts.images, ctx.initial) and ts.n_synthetic == 0


# shared loop defaults live outside conf/loop/, and every loop still composes to the values it had
LOOP_VALUES = {
    "accumulate": {"budget": None},
    "augment": {},
    "fresh": {"real_size": 4000},
    "real": {},
    "replace": {},
    "replay": {"real_fraction": 0.5},
}


@pytest.mark.parametrize("loop_name", sorted(LOOP_VALUES))
def test_loop_defaults_compose_to_the_same_values(loop_name):
    loop = OmegaConf.to_container(compose_cfg(f"loop={loop_name}").loop, resolve=True)
    assert loop == {
        "generations": 5,
        "synthetic_size": 4000,
        "warm_start": False,
        "curation": None,
        "curation_keep": 0.5,
        "verifier_n_labelled": 1000,
        "real_weight": None,
        "name": loop_name,
        "_target_": f"bench.loops.{loop_name}.{loop_name.capitalize()}",
        **LOOP_VALUES[loop_name],
    }
    smoke = compose_cfg(f"loop={loop_name}", "experiment=smoke").loop
    assert (smoke.generations, smoke.synthetic_size) == (3, 500)


# data


@pytest.mark.parametrize("data_name", DATA)
def test_data_loads_or_stops_offline_in_one_line(data_name):
    data = load_data(data_name)
    if isinstance(data, BenchError):
        assert "\n" not in str(data) and str(data), f"data={data_name} must stop with one line, got {data!r}"
        return
    cfg = compose_cfg(f"data={data_name}")
    assert data.name == cfg.data.name == data_name
    for x, y in ((data.train_images, data.train_labels), (data.test_images, data.test_labels)):
        assert x.dtype == torch.uint8 and x.ndim == 4 and len(y) == len(x) > 0
    assert int(data.train_labels.min()) >= 0 and int(data.train_labels.max()) < data.num_classes
    assert len(data.checksum) == 64
    assert 0 < cfg.data.n_train <= len(data.train_images)


# experiments


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("model_name", MODELS)
def test_experiment_composes_with_every_model_and_loop(experiment, model_name):
    for loop_name in LOOPS:
        cfg = compose_cfg(f"experiment={experiment}", f"model={model_name}", f"loop={loop_name}")
        resolved = OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
        assert resolved["model"]["_target_"] and resolved["loop"]["name"] == cfg.loop.name
        try:  # sizes or settings an experiment cannot serve must stop before training, in one line naming the knob
            build(cfg.loop).check_sizes(n_initial=int(cfg.data.n_train), n_pool=60_000)
        except BenchError as e:  # e.g. experiment=long loop=fresh: 9 x 20,000 unseen images > 40,000; or
            # experiment=real_weight_golden loop=real: a real-data weight for a loop without synthetic images
            assert "\n" not in str(e) and "loop." in str(e)


def test_every_config_folder_is_a_checked_group():
    folders = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", ".", "hydra")))
    assert list(CHECKED_GROUPS) == folders
    for group in CHECKED_GROUPS:
        with pytest.raises(BenchError, match=f"unknown {group} 'nope'; allowed: "):
            check_group_choices([f"{group}=nope"])


def test_help_lists_no_internal_file_as_an_option():
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    section = out.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = {}
    for line in section.splitlines():
        group, sep, choices = line.partition(": ")
        if sep and "(" not in group:
            listed[group.strip()] = [c.strip() for c in choices.split(",")]
    assert set(listed) == set(CHECKED_GROUPS), "a group folder holds no option, or --help lists a non-group"
    for group, choices in listed.items():
        internal = [c for c in choices if c.startswith("_")]
        assert not internal, f"--help lists internal {group} file(s) {internal}: move them out of conf/{group}/"
        assert choices == group_options(group)
