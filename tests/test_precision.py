"""`precision: auto` takes bf16 only where the device has native bf16 (bench.models.precision)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml
from omegaconf import OmegaConf

from bench.engine import run as run_module
from bench.engine.train import check_trainer
from bench.errors import BenchError
from bench.models import precision, unet_parts
from bench.report.environment import environment

CONF = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(params=[True, False], ids=["native", "emulated"])
def native(request, monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device_type: request.param)
    return request.param


def test_auto_resolves_by_the_machine_and_explicit_values_pass_through(native):
    assert precision.trainer_precision("auto", "cpu") == ("bf16-mixed" if native else "32-true")
    assert precision.sampling_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")
    for explicit in ("32-true", "bf16-mixed", "16-mixed"):
        assert precision.trainer_precision(explicit, "cpu") == explicit
    for explicit in ("fp32", "bf16"):
        assert precision.sampling_precision(explicit, torch.device("cpu")) == explicit


def test_autocast_follows_the_resolution(native):
    layer = torch.nn.Linear(4, 4)
    with unet_parts.autocast("auto", torch.device("cpu")):
        out = layer(torch.randn(2, 4))
    assert out.dtype == (torch.bfloat16 if native else torch.float32)
    with unet_parts.autocast("fp32", torch.device("cpu")):
        assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_device_type_of_accelerators():
    assert precision.device_type("cpu") == "cpu"
    assert precision.device_type("gpu") == "cuda"
    assert precision.device_type("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_native_bf16_is_a_bool_and_recorded_in_the_environment():
    assert isinstance(precision.native_bf16("cpu"), bool)
    assert precision.native_bf16("mps") is False
    assert environment("cpu")["bf16_native"] == precision.native_bf16("cpu")


def test_the_cpu_kernels_torch_picked_are_recorded():
    """Two CPUs of one name (AMD EPYC) gave the same VAE run different FIDs: the kernels tell them apart."""
    assert environment("cpu")["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert environment("cpu")["cpu_capability"] in ("DEFAULT", "VSX", "Z VECTOR", "NO AVX", "AVX2", "AVX512", "SVE256")


def test_trainer_accepts_auto_and_names_it_when_refusing():
    check_trainer(OmegaConf.create({"max_steps": 10, "batch_size": 8, "precision": "auto"}))
    with pytest.raises(BenchError, match=r"trainer.precision='bf17' is not known; allowed: .*auto"):
        check_trainer(OmegaConf.create({"max_steps": 10, "batch_size": 8, "precision": "bf17"}))


def test_no_cpu_preset_pins_bf16():
    """A preset pinned to bf16 takes 16x the time on a CPU that emulates it; the CPU presets say auto."""
    files = [
        *sorted((CONF / "model").glob("*.yaml")),
        *(CONF / "experiment" / f for f in ("ddpm_cpu.yaml", "ldm_cpu.yaml")),
    ]
    pinned = []
    for path in files:
        node = yaml.safe_load(path.read_text()) or {}
        for section in ("trainer", "sampling"):
            value = (node.get(section) or {}).get("precision")
            if value is not None and str(value).startswith("bf16"):
                pinned.append(f"{path.name}: {section}.precision={value}")
    assert not pinned, pinned
    assert yaml.safe_load((CONF / "model" / "ldm.yaml").read_text())["trainer"]["precision"] == "auto"


def test_the_console_says_what_auto_took(caplog):
    cfg = OmegaConf.create({"trainer": {"precision": "auto"}, "sampling": {"precision": "fp32"}})
    with caplog.at_level(logging.INFO, logger=run_module.log.name):
        run_module._say_precision(cfg, {"bf16_native": False, "device": "Some CPU"})
    assert "precision auto for trainer: fp32 (Some CPU has no native bf16)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=run_module.log.name):
        run_module._say_precision(OmegaConf.create({"trainer": {"precision": "32-true"}}), {"bf16_native": True})
    assert "precision auto" not in caplog.text
