"""Every argument checked before any work (issue 20 part 5): one line naming the value and what is allowed, exit 2."""

from __future__ import annotations

import pytest

from bench.cli.audit import main as audit_main
from bench.cli.critical_fraction import main as critical_main
from bench.cli.leaderboard import main as leaderboard_main
from bench.cli.reproductions import main as reproductions_main
from bench.cli.resample import main as resample_main


def refused(capsys, main, args) -> str:
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


def one_line(capsys, code) -> str:
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", ","], "argument --metrics: ',' names no metric; allowed: one or more of fid, kid_mean,"),
        (["--metrics", ""], "argument --metrics: '' names no metric"),
        (["--metrics", "fid,fidd"], "argument --metrics: 'fid,fidd': 'fidd' not allowed here; allowed: one or more"),
        (["--metrics", "density"], "'density' not allowed here"),  # no better direction: no λ*
        (["--bootstrap", "-5"], "argument --bootstrap: -5 is negative; allowed: 0 (no bootstrap) or more resamples"),
        (["--bootstrap", "1.5"], "argument --bootstrap: '1.5' is not an integer"),
        (["--seed", "-1"], "argument --seed: -1 is negative; allowed: a seed from 0 to 2**63 - 1"),
        (
            ["--seed", "1" + "0" * 400],
            "argument --seed: 100000000000000000000000000000 is too large; allowed: a seed from 0 to 2**63 - 1",
        ),
    ],
)
def test_critical_fraction_arguments(tmp_path, capsys, args, message):
    err = refused(capsys, critical_main, [str(tmp_path / "nowhere"), *args])
    assert err.startswith("error: argument --") and message in err, err


def test_critical_fraction_takes_known_metrics_once(tmp_path, capsys):
    """A good --metrics list passes the check (the error that follows is about the path, read after it)."""
    err = one_line(capsys, critical_main([str(tmp_path / "nowhere"), "--metrics", " fid , recall,fid"]))
    assert err == f"error: {tmp_path / 'nowhere'}: no such file or folder"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--law-seeds", "0"], "argument --law-seeds: 0 is too small; allowed: 2 or more seeds"),
        (["--law-seeds", "-3"], "argument --law-seeds: -3 is negative; allowed: 2 or more seeds"),
        (["--law-seeds", "1"], "argument --law-seeds: 1 is too small"),
        (["--jobs", "0"], "argument --jobs: 0 is too small; allowed: 1 or more"),
    ],
)
def test_reproductions_arguments(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    err = refused(capsys, reproductions_main, [*args, "--no-run", "--out", "page.md"])
    assert err.startswith(f"error: {message}"), err
    assert not (tmp_path / "page.md").exists()


def test_reproductions_checks_out_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    import bench.cli.reproductions as cli

    monkeypatch.setattr(cli, "_build", lambda args: pytest.fail("work started before --out was checked"))
    (tmp_path / "a_file").write_text("x")
    err = one_line(capsys, reproductions_main(["--no-run", "--out", str(tmp_path / "a_file" / "page.md")]))
    assert err.startswith(f"error: --out {tmp_path / 'a_file' / 'page.md'} cannot be written")
    assert "allowed: a path in a writable folder" in err
    err = one_line(capsys, reproductions_main(["--no-run", "--out", str(tmp_path)]))
    assert err == f"error: --out {tmp_path} is a folder; allowed: a file path in a writable folder"


def test_reproductions_seeds_are_bounded(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = one_line(capsys, reproductions_main(["--no-run", "--seeds=-1,2", "--out", "page.md"]))
    assert err == "error: --seeds='-1,2' holds a seed outside 0 to 2**63 - 1"
    err = one_line(capsys, reproductions_main(["--no-run", "--seeds", f"0,{2**63}", "--out", "page.md"]))
    assert "holds a seed outside 0 to 2**63 - 1" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bootstrap", "-5"], "argument --bootstrap: -5 is negative"),
        (["--class-threshold", "0"], "argument --class-threshold: 0 is outside (0, 1]; allowed: a number in (0, 1]"),
        (["--class-threshold", "nan"], "argument --class-threshold: nan is outside (0, 1]"),
        (["--class-threshold", "2"], "argument --class-threshold: 2 is outside (0, 1]"),
    ],
)
def test_leaderboard_arguments(tmp_path, capsys, args, message):
    err = refused(capsys, leaderboard_main, [str(tmp_path), *args])
    assert err.startswith(f"error: {message}"), err


def test_leaderboard_out_unwritable_is_one_line(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    err = one_line(capsys, leaderboard_main([str(tmp_path), "--out", str(tmp_path / "a_file")]))
    assert err == f"error: --out {tmp_path / 'a_file'} is not a folder; allowed: a writable folder (made if missing)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n-train", "0"], "argument --n-train: 0 is too small; allowed: 1 or more"),
        (["--n-calibration", "-1"], "argument --n-calibration: -1 is negative"),
        (["--seed", "-1"], "argument --seed: -1 is negative"),
    ],
)
def test_audit_arguments(tmp_path, capsys, args, message):
    err = refused(capsys, audit_main, ["--pool", str(tmp_path), *args])
    assert err.startswith(f"error: {message}"), err


def test_audit_checks_out_before_any_work(tmp_path, monkeypatch, capsys):
    import bench.cli.audit as cli

    monkeypatch.setattr(cli, "_audit", lambda args: pytest.fail("work started before --out was checked"))
    err = one_line(capsys, audit_main(["--pool", str(tmp_path), "--out", str(tmp_path)]))
    assert err == f"error: --out {tmp_path} is a folder; allowed: a file path in a writable folder"


def test_argparse_errors_are_one_line_too(capsys):
    err = refused(capsys, resample_main, [])
    assert err.startswith("error: the following arguments are required: run_dir")
    err = refused(capsys, critical_main, ["x", "--no-such-option"])
    assert err == "error: unrecognized arguments: --no-such-option"
