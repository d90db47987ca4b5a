"""Sweeps on Hydra's launchers, run identity, run status and the environment block.

A multirun with joblib (2 jobs) and with submitit_local lands its runs in the same folders a single run of the same
config uses; the keys that do not change results (threads, progress bar) name no folder and pass the resume check;
a killed, a failed and a live run are told apart.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.config import NOT_RESULT_KEYS, compose, folder_exclude_keys
from bench.engine.run import run
from bench.errors import BenchError
from bench.report.run_status import RunLock, run_status
from conftest import tiny_overrides

# one generation of a tiny VAE: seconds on 2 cores
TINY = tiny_overrides(generations=1)


def cli(*args, cwd, timeout=600):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def run_folders(cwd: Path) -> list[Path]:
    return sorted(p.parent for p in (cwd / "outputs").glob("mnist-*-*/*/results.json"))


@pytest.mark.slow
def test_joblib_sweep_and_a_sequential_run_share_one_folder(tmp_path):
    out = cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1", *TINY, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = run_folders(tmp_path)
    assert [r.name.rsplit("seed=", 1)[1].split(",")[0] for r in runs] == ["0", "1"]
    for r in runs:
        results = json.loads((r / "results.json").read_text())
        assert results["status"] == "finished"
        env = results["environment"]
        assert env["packages"]["torch"] == torch.__version__.split("+")[0]
        assert env["torch_threads"] == 1, "joblib gives each of 2 jobs on 2 cores one thread"
        assert [g["torch_threads"] for g in results["generations"]] == [1]
        assert {"device", "date", "git_commit", "source_dirty", "python"} <= set(env)

    # every sweep keeps its own multirun.yaml (none is written over another's) and points at its runs
    assert not (tmp_path / "outputs" / "multirun.yaml").exists()
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    assert (sweep / "multirun.yaml").is_file()
    pointed = sorted(Path(p.read_text().strip()) for p in (sweep / "runs").glob("*.txt"))
    assert pointed == [r.resolve() for r in runs]
    assert (sweep / "leaderboard.md").is_file(), "the sweep's leaderboard is rebuilt after the multirun"

    # the same config run alone, with another thread count: the same folder, found finished
    seq = cli("seed=1", *TINY, "trainer.num_threads=2", cwd=tmp_path)
    assert seq.returncode == 0, seq.stderr[-3000:]
    assert "finished run; nothing to do" in seq.stderr + seq.stdout
    assert run_folders(tmp_path) == runs


@pytest.mark.slow
def test_submitit_local_sweep_runs_the_job(tmp_path):
    out = cli("-m", "hydra/launcher=submitit_local", "seed=3", *TINY, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    (folder,) = run_folders(tmp_path)
    assert folder.parent.name == "mnist-vae-replace" and "seed=3" in folder.name
    assert json.loads((folder / "results.json").read_text())["status"] == "finished"


def test_keys_that_do_not_change_results_name_no_folder():
    excluded = folder_exclude_keys()
    for key in NOT_RESULT_KEYS:
        assert key in excluded
    cfg = compose(["sweep=loops"])
    assert "sweep" not in cfg, "a sweep preset only sets hydra.sweeper.params, nothing a run computes"


def test_run_status_tells_running_finished_and_interrupted_apart(tmp_path):
    running = {"status": "running"}
    assert run_status(tmp_path, running) == "interrupted", "nobody holds the lock"
    with RunLock(tmp_path):
        assert run_status(tmp_path, running) == "running"
        with pytest.raises(BenchError, match=r"is being written by pid \d+ on .*; wait for it or use another run_dir"):
            RunLock(tmp_path).acquire()
    assert run_status(tmp_path, running) == "interrupted"
    assert run_status(tmp_path, {"status": "finished"}) == "finished"


def test_a_run_stopped_by_an_error_says_interrupted_and_resumes(tmp_path, monkeypatch):
    import bench.engine.generation

    cfg = compose([*TINY, "loop.generations=2", f"run_dir={tmp_path}"])
    real_fit, calls = bench.engine.generation.fit, []

    def fit_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of memory (simulated)")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(bench.engine.generation, "fit", fit_then_fail)
    with pytest.raises(RuntimeError, match="simulated"):
        run(cfg)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "interrupted" and len(results["generations"]) == 1
    assert run_status(tmp_path, results) == "interrupted"

    monkeypatch.setattr(bench.engine.generation, "fit", real_fit)
    assert run(cfg)["status"] == "finished"
