"""A full disk or a folder that cannot be written ends a command in one line, exit 2, and loses nothing already
written (issue 20, part 5): every file is written whole (write-then-rename) or not at all."""

import errno
import json
import os
import subprocess
import sys

from bench.cli.arguments import one_line_errors
from bench.cli.leaderboard import main as leaderboard_main


def disk_full(path, data):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


# a run whose disk fills once generation 0 is committed: every write of generation 1 fails with ENOSPC
FULL_DISK_RUN = """
import errno, sys
import bench.io.atomic as atomic, bench.report.run_folder as run_folder
real = atomic.write_bytes
def write_bytes(path, data):
    if "gen_001" in str(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    real(path, data)
atomic.write_bytes = run_folder.write_bytes = write_bytes
from bench.__main__ import entry
sys.argv = ["bench", *sys.argv[1:]]
entry()
"""


def test_the_main_command_says_a_full_disk_in_one_line_and_keeps_the_finished_generations(tmp_path):
    run_dir = tmp_path / "run"
    args = ["data=digits", "loop.generations=2", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK_RUN, *args], capture_output=True, text=True, timeout=600, env=env
    )
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: [Errno 28] No space left on device: ") and "gen_001" in last, out.stderr[-2000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "interrupted" and [g["generation"] for g in results["generations"]] == [0]
    assert (run_dir / "gen_000" / "samples.npy").is_file() and not (run_dir / "gen_001").exists()


def test_a_command_says_an_unwritable_output_in_one_line(tmp_path, monkeypatch, capsys):
    import bench.analysis.leaderboard as board

    run_dir = tmp_path / "runs"
    run_dir.mkdir()
    monkeypatch.setattr(board, "write_text", lambda path, text: disk_full(path, text.encode()))
    monkeypatch.setattr(board, "build", lambda *a, **k: board.Leaderboard(tracks={}, rank_by="fid.auc"))
    assert leaderboard_main([str(run_dir), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out ") and "(No space left on device)" in err[0]


def test_every_command_ends_an_os_error_or_a_bench_error_in_one_line(capsys):
    @one_line_errors
    def main(argv):
        if argv == ["disk"]:
            raise OSError(errno.EROFS, "Read-only file system", "/data/out.json")
        return 0

    assert main([]) == 0
    assert main(["disk"]) == 2
    assert capsys.readouterr().err == "error: [Errno 30] Read-only file system: '/data/out.json'\n"
