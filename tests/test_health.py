"""The generation-0 health gate: FID against the floor's (each data set's own limit), the share of real classes
covered, and the limit on how far the seeds' generation-0 FIDs may spread."""

import math
import re

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.analysis.aggregate import relative_spread
from bench.config import CONF_DIR
from bench.engine.health import DEFAULT_MAX_GEN0_FID_SPREAD, check_health_config, generation_zero_health
from bench.errors import BenchError

GATE = OmegaConf.create({"max_fid_over_floor": 60, "min_classes_covered": 1.0})
FLOOR = {"fid": 5.0}


@pytest.mark.parametrize(
    "metrics, flagged",
    [
        ({"fid": 237.0, "classes_covered": 10}, []),  # the default VAE: far from the floor, but a usable model
        ({"fid": 300.0, "classes_covered": 10}, []),  # exactly 60 x the floor passes
        ({"fid": 300.1, "classes_covered": 10}, ["FID 300.1 > 60 x the floor's 5.00"]),
        ({"fid": 73.0, "classes_covered": 9}, ["9 of 10 classes covered, 10 needed"]),
        ({"fid": 615.0, "classes_covered": 6}, ["FID 615.0", "6 of 10 classes covered"]),  # 800 H200 steps
    ],
)
def test_gate(metrics, flagged):
    warnings = generation_zero_health(metrics, FLOOR, n_classes=10, health=GATE)
    assert len(warnings) == len(flagged)
    for w, part in zip(warnings, flagged, strict=True):
        # each says what the run's later numbers are then worth
        assert part in w and ("not model collapse" in w or "compare loops with each other" in w)


def test_class_share_rounds_up_and_a_missing_metric_is_not_a_failure():
    gate = OmegaConf.create({"max_fid_over_floor": 60, "min_classes_covered": 0.85})
    assert generation_zero_health({"fid": 10.0, "classes_covered": 9}, FLOOR, n_classes=10, health=gate) == []
    assert (
        "8 of 10 classes covered, 9 needed"
        in generation_zero_health({"fid": 10.0, "classes_covered": 8}, FLOOR, n_classes=10, health=gate)[0]
    )
    assert generation_zero_health({}, FLOOR, n_classes=10, health=GATE) == []


@pytest.mark.parametrize(
    "gate, message",
    [
        ({"max_fid_over_floor": 0, "min_classes_covered": 1.0}, "health.max_fid_over_floor=0 must be a number > 0"),
        ({"max_fid_over_floor": 60, "min_classes_covered": 1.5}, "health.min_classes_covered=1.5 is outside"),
    ],
)
def test_bad_gate_is_one_line(gate, message):
    with pytest.raises(BenchError, match=message.replace(".", r"\.")):
        check_health_config(OmegaConf.create(gate))


@pytest.mark.parametrize("spread", [0, -0.1, True, "wide", float("nan")])
def test_a_bad_gen0_spread_limit_is_one_line(spread):
    gate = OmegaConf.create({"max_fid_over_floor": 60, "min_classes_covered": 1.0, "max_gen0_fid_spread": spread})
    message = rf"^health\.max_gen0_fid_spread={re.escape(str(spread))} must be a number > 0$"
    with pytest.raises(BenchError, match=message):
        check_health_config(gate)


def test_a_gate_without_a_spread_limit_takes_the_default():
    check_health_config(GATE)  # hand-made gates (and results written before the limit existed) have none
    check_health_config(OmegaConf.create({**GATE, "max_gen0_fid_spread": 0.1}))
    assert DEFAULT_MAX_GEN0_FID_SPREAD == 0.1


def test_relative_spread_of_100_110_120_is_0_2258():
    # mean 110, sample sd 10, t(0.975, 2) = 4.3027: half-width 4.3027 x 10 / sqrt(3) = 24.84, 24.84 / 110 = 0.2258
    assert relative_spread([100.0, 110.0, 120.0]) == pytest.approx(4.302652729911275 * 10 / math.sqrt(3) / 110)
    assert relative_spread([100.0, 110.0, 120.0]) == pytest.approx(0.2258, abs=1e-4)
    assert relative_spread([120.0, None, 100.0, math.nan, 110.0]) == relative_spread([100.0, 110.0, 120.0])
    assert relative_spread([5.0, 5.0]) == 0.0
    assert relative_spread([110.0]) is None and relative_spread([]) is None  # one seed: no interval
    assert relative_spread([0.0, 0.0]) is None  # no share of a zero mean


# ---------------------------------------------------------------- the FID limit is each data set's own


def _health(*overrides: str) -> dict:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=["run_dir=unused", *overrides])
    health = OmegaConf.to_container(cfg.health, resolve=True)
    assert isinstance(health, dict)
    return health


def test_mnist_has_its_calibrated_fid_limit_and_an_uncalibrated_data_set_the_default():
    assert _health("data=mnist")["max_fid_over_floor"] == 20
    assert _health()["max_fid_over_floor"] == 20  # mnist is the default data set
    assert _health("data=digits")["max_fid_over_floor"] == 60
    assert _health("data=digits")["max_gen0_fid_spread"] == 0.1


def test_the_command_line_overrides_the_data_sets_fid_limit():
    assert _health("data=mnist", "health.max_fid_over_floor=30")["max_fid_over_floor"] == 30
    assert _health("data=digits", "data.health.max_fid_over_floor=7")["max_fid_over_floor"] == 7
    assert _health("health.max_gen0_fid_spread=0.25")["max_gen0_fid_spread"] == 0.25


@pytest.mark.parametrize("data_name", sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml")))
def test_every_data_set_composes_a_valid_gate(data_name):
    health = _health(f"data={data_name}")
    check_health_config(OmegaConf.create(health))
    # its own calibrated limit where its file sets one, else data_common's uncalibrated default
    own = OmegaConf.load(CONF_DIR / "data" / f"{data_name}.yaml").get("health") or {}
    common = OmegaConf.load(CONF_DIR / "data_common.yaml").health.max_fid_over_floor
    assert health["max_fid_over_floor"] == own.get("max_fid_over_floor", common)
