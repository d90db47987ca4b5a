"""The benchmark's reason to exist: fully synthetic retraining collapses measurably more than the real-data control."""

import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import CONF_DIR
from bench.engine.run import run

SMALL = [
    "data.n_train=2000",
    "loop.generations=3",
    "trainer.max_epochs=10",
    "trainer.enable_progress_bar=false",
    "metrics.n_samples=1000",
    "metrics.n_reference=3000",
    "metrics.kid_subsets=10",
]


def metrics_of(tmp_path, loop):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[*SMALL, f"loop={loop}", f"run_dir={tmp_path / loop}"])
    return [g["metrics"] for g in run(cfg)["generations"]]


@pytest.mark.slow
def test_replace_collapses_and_real_does_not(tmp_path):
    replace, real = metrics_of(tmp_path, "replace"), metrics_of(tmp_path, "real")
    assert replace[0] == real[0], "generation 0 is the same real-data model in both loops"
    fid_rise = {name: m[-1]["fid"] - m[0]["fid"] for name, m in (("replace", replace), ("real", real))}
    coverage_drop = {name: m[0]["coverage"] - m[-1]["coverage"] for name, m in (("replace", replace), ("real", real))}
    for name, m in (("replace", replace), ("real", real)):
        print(
            name,  # shown by pytest when an assertion fails
            [
                {
                    k: round(x[k], 3)
                    for k in ("fid", "kid_mean", "recall", "coverage", "kl_gen_real", "vendi", "c2st_accuracy")
                }
                for x in m
            ],
        )
    assert fid_rise["replace"] > 0.3 * replace[0]["fid"], "fully synthetic retraining must raise FID clearly"
    assert fid_rise["replace"] > fid_rise["real"] + 0.2 * replace[0]["fid"]
    assert coverage_drop["replace"] > coverage_drop["real"] + 0.03
    # the tails go first: the class histogram drifts away from the real one under replace, not under real
    assert replace[-1]["kl_gen_real"] > 3 * max(real[-1]["kl_gen_real"], 0.05)
