"""The generation-0 health gate: FID against the floor's, and the share of real classes covered."""

import pytest
from omegaconf import OmegaConf

from bench.engine.health import check_health_config, generation_zero_health
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
        assert part in w and "not model collapse" in w


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
