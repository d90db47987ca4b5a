"""A run that diverges stops (issue 20, part 2): the generation, the step and the first non-finite quantity in one
line, exit 2, every finished generation kept, nothing of the failed one committed; non-finite health numbers make a
generation unhealthy."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

import bench.engine.generation as generation_module
from bench.config import compose
from bench.engine.health import generation_zero_health, non_finite_diagnostics
from bench.engine.run import run
from bench.engine.train_callbacks import first_non_finite
from bench.errors import BenchError, Diverged
from bench.models.base import finite_samples

DIGITS = ["data=digits", "trainer.max_epochs=2", "trainer.enable_progress_bar=false"]


def test_a_learning_rate_that_diverges_stops_generation_0_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-m", "bench", *DIGITS, "model.lr=1e6", "loop.generations=2", "run_dir=run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: generation 0 diverged at step "), out.stderr[-2000:]
    assert ": loss nan; try a smaller model.lr" in last
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "interrupted" and results["generations"] == []
    assert not list((tmp_path / "run").glob("gen_*")), "nothing of the diverged generation is committed"


def test_a_later_generation_that_diverges_keeps_the_earlier_ones(tmp_path, monkeypatch):
    fit = generation_module.fit

    def fit_then_poison(model, images, **kw):  # generation 1's weights turn NaN after its training
        device = fit(model, images, **kw)
        if kw["log_name"] == "gen_001":
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(math.nan)
        return device

    monkeypatch.setattr(generation_module, "fit", fit_then_poison)
    cfg = compose([*DIGITS, "loop.generations=3", f"run_dir={tmp_path}"])
    with pytest.raises(BenchError, match=r"^generation 1 diverged while sampling: \d+ of \d+ sample values are not"):
        run(cfg)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert [g["generation"] for g in results["generations"]] == [0]
    assert sorted(p.name for p in tmp_path.glob("gen_*")) == ["gen_000"]
    # the same command resumes after generation 0 (and, unpoisoned, finishes)
    monkeypatch.setattr(generation_module, "fit", fit)
    assert [g["generation"] for g in run(cfg)["generations"]] == [0, 1, 2]


def test_the_parameter_check_names_the_first_non_finite_parameter():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    assert first_non_finite(net) is None
    with torch.no_grad():
        net[1].bias[0] = math.inf
    assert first_non_finite(net) == "1.bias"


def test_samples_are_checked_before_they_become_uint8():
    assert finite_samples(torch.zeros(3)).shape == (3,)
    with pytest.raises(Diverged, match="2 of 4 sample values are not finite"):
        finite_samples(torch.tensor([0.0, math.nan, math.inf, 1.0]))


def test_non_finite_health_numbers_make_a_generation_unhealthy():
    assert non_finite_diagnostics({"latent_kl_nats": 1.5, "posterior_collapse": False, "warnings": []}) == []
    (w,) = non_finite_diagnostics({"latent_kl_nats": math.nan, "recon_nats": 2.0})
    assert w.startswith("diagnostic latent_kl_nats is nan")
    assert len(non_finite_diagnostics({"neg_elbo_nats": math.inf, "denoising_mse": -math.inf})) == 2
    health = OmegaConf.create({"max_fid_over_floor": 60, "min_classes_covered": 1.0})
    floor = {"fid": 5.0, "classes_covered": 10}
    (w,) = generation_zero_health({"fid": math.nan, "classes_covered": 10}, floor, n_classes=10, health=health)
    assert "FID is nan" in w, "a NaN FID must fail the gate, not slip past the comparison"
    assert generation_zero_health({"fid": 100.0, "classes_covered": 10}, floor, n_classes=10, health=health) == []


@pytest.mark.parametrize("seed", [-1, 2**63])
def test_a_seed_outside_what_results_json_allows_is_refused_before_the_folder_is_touched(tmp_path, seed):
    cfg = compose([*DIGITS, f"seed={seed}", f"run_dir={tmp_path / 'run'}"])
    with pytest.raises(BenchError, match=rf"^seed={seed} must be an integer in \[0, 2\^63 - 1\]$"):
        run(cfg)
    assert not (tmp_path / "run").exists()
