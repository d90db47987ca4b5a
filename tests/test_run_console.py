"""What a user sees of a run and where it writes (issue 18): sweep folders stay under a named hydra.sweep.dir, logs
carry one line per epoch instead of a progress bar when stdout is not a terminal (the bar stays on a terminal), and
a run's and a sweep's last lines say where to look."""

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.engine.run import compare_dir, where_to_look

# data=digits: a whole run in about a second on 2 cores
DIGITS = ["data=digits", "loop.generations=1", "trainer.max_epochs=3"]


def cli(*args, cwd, stdout=subprocess.PIPE, timeout=600):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
    )


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_a_named_sweep_dir_holds_every_file_of_the_sweep(tmp_path):
    sweep = tmp_path / "scratch" / "mysweep"
    out = cli("-m", *DIGITS, "loop=replace,real", "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]
    results = sorted(p.relative_to(sweep) for p in sweep.rglob("results.json"))
    assert [r.parts[0] for r in results] == ["digits-vae-real"] * 2 + ["digits-vae-replace"] * 2, results
    # nothing outside the named folder: not beside it on the scratch space, not in the working directory
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == ["mysweep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
    assert (sweep / "leaderboard.md").is_file() and (sweep / "multirun.yaml").is_file()
    # the sweep's last lines: its leaderboard, one line per entry, and the files written
    tail = out.stdout[out.stdout.index("sweep leaderboard:") :]
    assert re.search(r"vae real .*\(n=2\)", tail) and re.search(r"vae replace .*\(n=2\)", tail), tail
    assert f"written: {sweep / 'leaderboard.md'}" in tail


def test_without_a_named_sweep_dir_runs_share_the_single_run_folders(tmp_path):
    out = cli("-m", *DIGITS, "seed=0", cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]
    run_folder = tmp_path / "outputs" / "digits-vae-replace" / "loop.generations=1,seed=0,trainer.max_epochs=3"
    assert (run_folder / "results.json").is_file()
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    assert not list(sweep.rglob("results.json")), "the sweep folder keeps pointers, the runs live in outputs/"
    # and a single run of the same config finds it
    again = cli(*DIGITS, "seed=0", cwd=tmp_path)
    assert "finished run; nothing to do" in again.stdout


def test_a_log_file_gets_epoch_lines_not_a_progress_bar(tmp_path):
    log = tmp_path / "run.log"
    with open(log, "w") as f:  # stdout is a file, as under SLURM, nohup or CI
        out = cli(
            *DIGITS, "trainer.max_epochs=30", "trainer.enable_progress_bar=true", "run_dir=run", cwd=tmp_path, stdout=f
        )
    assert out.returncode == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "\r" not in text, "a progress bar's carriage returns reached a file"
    epochs = re.findall(r"gen_000 epoch (\d+)/30 step \d+: recon=\S+ kl=\S+", text)
    # at most about 20 lines a generation, the last epoch always
    assert 10 <= len(epochs) <= 20 and epochs[-1] == "30", epochs
    # the run's last lines: how long, where the run is, what to open, how to compare
    last = text.strip().splitlines()[-3:]
    assert re.search(r"finished: 1 generation\(s\) in \d+m \d\ds; run folder .*/run$", last[0]), last
    assert "metrics.png" in last[1] and "gen_000/samples.png" in last[1]
    assert last[2].startswith("  compare runs: python -m bench.leaderboard ")


def test_a_terminal_keeps_the_progress_bar(tmp_path):
    main, child = pty.openpty()  # stdout is a terminal: Lightning's bar, no epoch lines
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench", *DIGITS, "run_dir=run"],
            cwd=tmp_path,
            stdout=child,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        os.close(child)
        chunks = []
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=600) == 0
    finally:
        os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    assert "Epoch 2" in text and "it/s" in text, text[-2000:]  # Lightning's bar (Rich or tqdm)
    assert "gen_000 epoch" not in text


@pytest.mark.parametrize(
    ("run_dir", "family", "expected"),
    [
        ("/x/outputs/mnist-vae-replace/seed=1", "mnist-vae-replace", "/x/outputs"),
        ("/tmp/myrun", "mnist-vae-replace", "/tmp/myrun"),  # never a parent the user did not choose
    ],
)
def test_the_compare_command_names_the_folder_of_comparable_runs(run_dir, family, expected):
    assert compare_dir(Path(run_dir), family) == Path(expected)
    text = where_to_look(Path(run_dir), {"status": "finished", "generations": [{}, {}]}, family=family, seconds=75)
    assert text.splitlines()[0] == f"finished: 2 generation(s) in 1m 15s; run folder {run_dir}"
    assert text.splitlines()[2] == f"  compare runs: python -m bench.leaderboard {expected}"
