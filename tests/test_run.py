"""End to end through the Hydra entry.

A complete run folder is written; interrupted runs resume exactly; bad input fails in one line.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import CONF_DIR
from bench.engine.run import run
from bench.errors import BenchError
from bench.report.run_status import run_status
from conftest import kill_after_first_generation, tiny_overrides

REPO = Path(__file__).resolve().parents[1]
# small enough for seconds per generation on 2 cores, large enough for every metric to be defined
TINY = tiny_overrides()


def tiny_cfg(run_dir, *overrides):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=[*TINY, f"run_dir={run_dir}", *overrides])


def cli(*args, cwd=REPO, timeout=600):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def metric_rows(run_dir):
    return [r["metrics"] for r in json.loads((Path(run_dir) / "results.json").read_text())["generations"]]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One uninterrupted tiny run, through the real CLI, shared by the tests below."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    out = cli(*TINY, "loop=replay", f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr[-2000:]
    return run_dir, out


def test_cli_writes_every_file_of_the_run_folder(finished_run):
    run_dir, out = finished_run
    for name in ("results.json", "metrics.csv", "metrics.png", "class_shares.png"):
        assert (run_dir / name).is_file(), name
    for t in range(3):
        gen = run_dir / f"gen_{t:03d}"
        for name in ("record.json", "model.pt", "samples.npy", "samples.png"):
            assert (gen / name).is_file(), f"{gen.name}/{name}"
        samples = np.load(gen / "samples.npy", allow_pickle=False)
        assert samples.dtype == np.uint8 and samples.shape == (300, 1, 28, 28)
    assert not list(run_dir.glob("*.tmp")), "no temporary folder may be left behind"
    assert (run_dir / "logs" / "gen_002" / "metrics.csv").is_file(), "the CSV logger keeps each generation's curves"

    results = json.loads((run_dir / "results.json").read_text())
    assert results["schema_version"] == 1 and results["status"] == "finished"
    assert results["dataset"]["checksum"] == "7ea4b60ae284dd6359a4172ef4aae04c62afcbff9a2216f9d9dcef92d9e6e65a"
    assert len(results["feature_extractor"]["sha256"]) == 64
    assert results["config"]["loop"]["name"] == "replay" and results["config"]["seed"] == 0
    assert set(results["floor"]) >= {
        "fid",
        "kid_mean",
        "precision",
        "recall",
        "density",
        "coverage",
        "classes_covered",
        "kl_gen_real",
    }
    counts = [g["counts"] for g in results["generations"]]
    assert [(c["real"], c["synthetic"]) for c in counts] == [(300, 0), (150, 150), (150, 150)]
    assert results["evaluation"]["sampling"] == {"temperature": 1.0, "mode": "mean"}
    for g in results["generations"]:
        assert g["device"] == "cpu" and g["sampling"] == results["evaluation"]["sampling"]
        assert g["healthy"] is (not g["warnings"])
        assert set(g["seconds"]) == {"train", "sample", "eval"}
        assert {"latent_kl_nats", "recon_nats", "posterior_collapse"} <= set(g["diagnostics"])
        assert g["metrics"]["n_gen"] == 200

    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert len(lines) == 4 and header[0] == "generation"
    assert {"fid", "recall", "coverage", "n_real", "n_synthetic", "latent_kl_nats", "class_share_0"} <= set(header)
    assert "gen 2/2" in out.stderr + out.stdout, "the console shows a summary line per generation"


def test_metrics_csv_agrees_with_results_json_column_by_column(finished_run):
    """Every cell of metrics.csv is a value of results.json, under the name a reader expects, and none is left out."""
    import csv

    run_dir, _ = finished_run
    generations = json.loads((run_dir / "results.json").read_text())["generations"]
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(generations)
    scored = {"n_gen": "n_gen_scored", "n_real": "n_ref_scored", "n_train": "n_train_scored"}
    for row, g in zip(rows, generations, strict=True):
        expected = {"generation": g["generation"], "healthy": g["healthy"]}
        expected["extractor"] = g["extractor"]  # the feature space that scored the row
        expected |= {f"n_{k}": v for k, v in g["counts"].items()}  # images trained on
        expected |= {f"{k}_s": round(v, 3) for k, v in g["seconds"].items()}
        expected |= {k: v for k, v in g["diagnostics"].items() if not isinstance(v, (list, dict))}
        for k, v in g["metrics"].items():
            if k == "class_shares":
                expected |= {f"class_share_{i}": x for i, x in enumerate(v)}
            elif not isinstance(v, (list, dict)):
                # images scored: a name of their own
                expected[scored.get(k, f"{k}_scored" if k.startswith("n_") else k)] = v
        assert set(row) == set(expected), f"columns without a results.json value: {set(row) ^ set(expected)}"
        for column, value in expected.items():
            cell = row[column]
            if isinstance(value, (bool, str)):
                assert cell == str(value), column
            elif value is None:
                assert cell == "", column
            else:
                assert float(cell) == pytest.approx(float(value), rel=1e-12, abs=0), column


def test_every_generation_is_scored_against_its_own_training_set(finished_run):
    """memorised share of D_t and the entropies: at generation 0 D_t is D_0 (so the share is memorised_share), later
    D_t is what the loop trained on (|D_t| = counts.total); the floor holds them too, for held-out real images."""
    run_dir, _ = finished_run
    results = json.loads((run_dir / "results.json").read_text())
    for g in results["generations"]:
        m = g["metrics"]
        assert m["n_dt"] == g["counts"]["total"]
        assert 0.0 <= m["memorized_share_dt"] <= 1.0
        assert math.isfinite(m["entropy_dt"]) and math.isfinite(m["entropy_gen"])
    gen0 = results["generations"][0]["metrics"]
    assert gen0["memorized_share_dt"] == gen0["memorized_share"]
    assert gen0["nn_gen_dt_median"] == gen0["nn_gen_train_median"]
    assert results["floor"]["n_dt"] == results["generations"][0]["counts"]["total"]
    assert results["floor"]["memorized_share_dt"] == results["floor"]["memorized_share"]


def test_rerunning_a_finished_run_redoes_nothing(finished_run):
    run_dir, _ = finished_run
    files = lambda: {
        p: p.stat().st_mtime_ns
        for p in [*run_dir.glob("gen_*/*"), *run_dir.glob("*.*")]
        if p.suffix not in (".log", ".lock")  # the lock names the last process that opened the folder
    }
    before = files()
    out = cli(*TINY, "loop=replay", f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "finished run; nothing to do" in out.stderr + out.stdout
    assert before == files(), "a finished run is neither retrained, rescored nor rewritten"


def test_kill_9_then_resume_gives_the_same_metrics(finished_run, tmp_path):
    reference_dir, _ = finished_run
    run_dir = tmp_path / "killed"
    kill_after_first_generation([*TINY, "loop=replay"], run_dir, cwd=REPO)
    assert not (run_dir / "gen_002").exists(), "the kill should land mid-run"
    first = json.loads((run_dir / "gen_000" / "record.json").read_text())
    killed = json.loads((run_dir / "results.json").read_text())
    assert killed["status"] == "running", "a killed process cannot update its file"
    assert run_status(run_dir, killed) == "interrupted", "the lock died with the process: interrupted, not running"

    out = cli(*TINY, "loop=replay", f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resuming" in out.stderr + out.stdout
    assert json.loads((run_dir / "gen_000" / "record.json").read_text()) == first, (
        "a finished generation is never redone"
    )
    assert metric_rows(run_dir) == metric_rows(reference_dir)


def test_half_written_generation_is_discarded_and_redone(tmp_path):
    cfg = tiny_cfg(tmp_path, "loop.generations=2", "loop=replace")
    full = run(cfg)
    # simulate a crash during gen 1: its folder is being assembled, never renamed
    (tmp_path / "gen_001").rename(tmp_path / "gen_001.tmp")
    (tmp_path / "gen_001.tmp" / "record.json").unlink()
    (tmp_path / "gen_001.tmp" / "model.pt").write_bytes(b"garbage")
    resumed = run(cfg)
    assert not (tmp_path / "gen_001.tmp").exists()
    assert [g["metrics"] for g in resumed["generations"]] == [g["metrics"] for g in full["generations"]]


def test_warm_start_fine_tunes_the_previous_generation(tmp_path):
    cfg = tiny_cfg(tmp_path, "loop.generations=2", "loop.warm_start=true", "loop=augment")
    results = run(cfg)
    assert [g["warm_start"] for g in results["generations"]] == [False, True]
    assert results["generations"][1]["counts"] == {"real": 300, "synthetic": 300, "total": 600, "sampled": 300}


def test_corrupt_checkpoint_is_a_one_line_error(tmp_path):
    cfg = tiny_cfg(tmp_path, "loop.generations=2", "loop.warm_start=true")
    run(cfg)

    shutil.rmtree(tmp_path / "gen_001")
    ckpt = tmp_path / "gen_000" / "model.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(BenchError) as e:
        run(cfg)
    assert "corrupt checkpoint" in str(e.value) and str(ckpt) in str(e.value) and "\n" not in str(e.value)


def test_resuming_with_another_config_is_refused(tmp_path):
    run(tiny_cfg(tmp_path, "loop.generations=1"))
    with pytest.raises(BenchError, match=r"holds a run with another config \(loop.real_fraction|another config"):
        run(tiny_cfg(tmp_path, "loop.generations=1", "loop=replay"))


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.n_train=0", "data.n_train=0 must be a positive integer"),
        ("data.n_train=-3", "data.n_train=-3 must be a positive integer"),
        ("metrics.n_samples=50", "metrics.n_samples=50 is fewer than metrics.kid_subset_size=100"),
        ("metrics.n_samples=0", "metrics.n_samples=0 must be a positive integer"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0 must be a positive integer"),
        ("model.latent_dim=0", "model.latent_dim=0 must be a positive integer"),
        ("sampling.mode=median", "sampling.mode='median' is not known; allowed: mean, bernoulli"),
        ("+sampling.steps=50", "sampling.steps is not a setting of model vae; allowed: mode, temperature"),
        ("sampling.temperature=0", "sampling.temperature=0 must be a number > 0"),
        ("trainer.precision=fp8", "trainer.precision='fp8' is not known; allowed: 32-true"),
        ("trainer.max_steps=0", "trainer.max_steps=0 must be a positive integer"),
        ("health.min_classes_covered=2", "health.min_classes_covered=2 is outside the allowed range [0, 1]"),
        ("data.source=kaggle", "data.source='kaggle' is not known; allowed: auto, torchvision, pureml"),
        (
            "metrics.n_reference=9900",
            "metrics.n_reference=9900 + metrics.n_samples=200 exceeds the 10000 real test images",
        ),
    ],
)
def test_bad_values_fail_before_training(tmp_path, override, message):
    with pytest.raises(BenchError) as e:
        run(tiny_cfg(tmp_path, override))
    assert str(e.value).startswith(message)
    assert not list(tmp_path.glob("gen_*")), "nothing may be trained or written for a bad config"


@pytest.mark.parametrize(
    "args, message",
    [
        (["model=gan"], "error: unknown model 'gan'; allowed: ddpm, flow, gaussian, ldm, vae"),
        (
            ["loop=replace,forever"],
            "error: unknown loop 'forever'; allowed: accumulate, augment, fresh, real, replace, replay",
        ),
        (
            ["data=imagenet"],
            "error: unknown data 'imagenet'; allowed: cifar10, digits, fashion_mnist, folder, mnist, stacked_mnist, "
            "tails",
        ),
        (["loop=replay", "loop.real_fraction=2"], "error: loop.real_fraction=2 is outside the allowed range [0, 1]"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    out = cli(*args, f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in out.stderr


def test_results_are_strict_json_even_with_an_infinite_metric(tmp_path):
    from bench.io.atomic import write_json

    write_json(tmp_path / "r.json", {"kl_gen_real": float("inf"), "ci": [float("nan"), 1.0]})
    assert json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-standard {c}")) == {
        "kl_gen_real": None,
        "ci": [None, 1.0],
    }


def test_a_key_added_since_a_run_folder_was_written_resumes_at_its_old_behaviour(tmp_path):
    """model.prediction_type and model.snr_gamma came to model=ddpm after runs existed: a folder without them resumes
    (and is one config with new runs) at epsilon / null, and is another run at any other value."""
    from bench.analysis.aggregate import result_config
    from bench.engine.run import _check_same_config

    old = {"model": {"name": "ddpm", "lr": 1e-3}, "seed": 0}
    now = {"model": {"name": "ddpm", "lr": 1e-3, "prediction_type": "epsilon", "snr_gamma": None}, "seed": 0}
    _check_same_config({"config": old}, now, tmp_path)  # resumes
    assert result_config(old) == result_config(now)
    other = {"model": {**now["model"], "prediction_type": "v_prediction"}, "seed": 0}
    with pytest.raises(BenchError, match=r"another config \(model.prediction_type=None, now 'v_prediction'\)"):
        _check_same_config({"config": old}, other, tmp_path)
    assert result_config(old) != result_config(other)
    # a key that was there and changed is a change, whatever its value
    with pytest.raises(BenchError, match="another config"):
        _check_same_config({"config": other}, now, tmp_path)
