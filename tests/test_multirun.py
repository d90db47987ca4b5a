"""The runs a page is missing (bench.cli.multirun): every (configuration, seed) is its own `python -m bench` run,
`jobs` at a time across configurations, so a configuration's last seed never runs beside an idle core."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from bench.cli import multirun
from bench.cli.multirun import Missing, commands, run_missing, thread_env
from bench.errors import BenchError

A = Missing("vae/replace", ("model=vae", "loop=replace"), (0, 1, 2))
B = Missing("vae/real", ("model=vae", "loop=real"), (0, 1, 2))


def test_each_seed_is_a_plain_run_of_the_documented_command():
    runs = commands([A, Missing("vae/real", ("model=vae", "loop=real"), (2,))])
    assert [name for name, _ in runs] == ["vae/replace"] * 3 + ["vae/real"]
    assert runs[0][1] == [sys.executable, "-m", "bench", "model=vae", "loop=replace", "seed=0"]
    assert runs[3][1][-3:] == ["model=vae", "loop=real", "seed=2"]
    assert all("-m" not in c[3:] for _, c in runs)  # no multirun: it lands in the same folder, one run a process


def _fake(monkeypatch, handle):
    calls: list[list[str]] = []
    lock = threading.Lock()

    def run(command, env):
        with lock:
            calls.append(command)
        return subprocess.CompletedProcess(command, handle(command))

    monkeypatch.setattr(multirun.subprocess, "run", run)
    return calls


def test_a_configurations_last_seed_runs_beside_the_next_configurations_first(monkeypatch):
    # replace's seed 2 and real's seed 0 each wait for the other: under one multirun per configuration (the old way,
    # 3 seeds on 2 jobs) replace's seed 2 ran alone and the barrier would break
    meet = threading.Barrier(2, timeout=30)

    def handle(command):
        if command[-2:] in (["loop=replace", "seed=2"], ["loop=real", "seed=0"]):
            meet.wait()
        return 0

    calls = _fake(monkeypatch, handle)
    run_missing([A, B], jobs=2)
    assert len(calls) == 6 and not meet.broken


def test_a_failed_run_stops_new_runs_and_names_its_config(monkeypatch, capsys):
    calls = _fake(monkeypatch, lambda command: 1 if command[-1] == "seed=1" else 0)
    with pytest.raises(BenchError, match=r"the runs of vae/replace failed: -m bench model=vae loop=replace seed=1$"):
        run_missing([A, B], jobs=1)
    assert [c[-1] for c in calls] == ["seed=0", "seed=1"]  # nothing started after the failure
    assert capsys.readouterr().out.count("running: ") == 2


def test_parallel_runs_share_the_cores_unless_the_caller_chose(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(multirun.os, "cpu_count", lambda: 8)
    assert thread_env(2)["OMP_NUM_THREADS"] == "4" and thread_env(16)["OMP_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in thread_env(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_env(2)["OMP_NUM_THREADS"] == "3"
