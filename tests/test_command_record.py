"""A process refused by a run folder changes nothing in it (issue 20, part 6): Hydra's record of the command
(.hydra/) is written by the run once it holds the lock and has passed the resume check, never before."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bench.report.run_status import RunLock

DIGITS = ["data=digits", "loop.generations=1", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]


def cli(*args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def snapshot(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def test_a_refused_process_leaves_every_file_of_the_run_unchanged(tmp_path):
    run_dir = tmp_path / "run"
    first = cli(*DIGITS, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    record = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    assert record == DIGITS, "the task's overrides, as Hydra records them"
    assert yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())["data"]["name"] == "digits"
    assert "hydra" in yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())
    before = snapshot(run_dir)

    # a live writer holds the folder (this test process): another command with other settings is refused
    with RunLock(run_dir):
        live = snapshot(run_dir)
        second = cli(*DIGITS, "seed=7", "model.lr=0.01", f"hydra.run.dir={run_dir}", cwd=tmp_path)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines()[-1].startswith(f"error: run folder {run_dir} is being written by")
        assert snapshot(run_dir) == live, "the refused process wrote into a live run's folder"

    # no live writer, but other settings than the run's: refused by the resume check, the record untouched
    third = cli(*DIGITS, "seed=7", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert third.returncode == 2
    assert "holds a run with another config (seed=0, now 7)" in third.stderr
    assert {k: v for k, v in snapshot(run_dir).items() if k != "run.lock"} == {
        k: v for k, v in before.items() if k != "run.lock"
    }
