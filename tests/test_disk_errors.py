"""A full disk or a folder that cannot be written ends a command in one line, exit 2, and loses nothing already
written (issue 20, part 5): every file is written whole (write-then-rename) or not at all."""

import errno
import json
import sys

import pytest

import bench.io.atomic as atomic
from bench.cli.arguments import one_line_errors
from bench.cli.leaderboard import main as leaderboard_main


def disk_full(path, data):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_the_main_command_says_a_full_disk_in_one_line_and_keeps_the_finished_generations(
    tmp_path, monkeypatch, capsys
):
    from bench.__main__ import main

    run_dir = tmp_path / "run"
    args = ["data=digits", "loop.generations=2", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}"]
    real_write = atomic.write_bytes

    def fills_up(path, data):  # the disk fills once generation 0 is committed
        if (run_dir / "gen_000" / "record.json").exists() and "gen_001" in str(path):
            disk_full(path, data)
        real_write(path, data)

    monkeypatch.setattr(atomic, "write_bytes", fills_up)
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: [Errno 28] No space left on device: ") and "gen_001" in err[-1]
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
