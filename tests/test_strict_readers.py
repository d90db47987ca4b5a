"""Every reader of results.json against a real file with one leaf changed (issue 20 part 3), property-based.

A real results.json (a tiny data=digits, model=gaussian run) gets one leaf replaced by a value of another type,
a huge or non-finite number, an empty or 10,000-character string, or deleted. Every reader (leaderboard,
critical_fraction, reproductions, summary, resample) then answers with a one-line error, or with --skip-invalid a
one-line warning: never a traceback, and never a silent acceptance of a non-finite or overflowing number.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.analysis.aggregate import load_results, result_config
from bench.cli.critical_fraction import main as critical_main
from bench.cli.leaderboard import main as leaderboard_main
from bench.cli.reproductions import describe_runs
from bench.cli.resample import resample
from bench.errors import BenchError
from bench.report.summary import summary_scores
from test_trust import make_tiny_run

RAW = "__raw_json_token__"  # a string replaced by a literal the json module cannot write (NaN, 1e999, 10^400)
# what one leaf becomes; raw tokens are numbers no reader may ever accept
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" + "0" * 400, str(2**64), "-" + "9" * 20]
OTHER_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, -2.5e300, "", "x" * 10_000, "text", [], {}, [1, "a"]]


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every leaf (scalars, empty containers) of a JSON document."""
    if isinstance(node, dict) and node:
        return [p for k, v in node.items() for p in leaves(v, (*path, k))]
    if isinstance(node, list) and node:
        return [p for i, v in enumerate(node) for p in leaves(v, (*path, i))]
    return [path]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("strict") / "run"
    make_tiny_run(run_dir)
    return run_dir, json.loads((run_dir / "results.json").read_text())


@dataclass(frozen=True)
class Change:
    text: str  # the changed results.json
    must_refuse: bool  # a number no reader may accept
    what: str

    def __repr__(self) -> str:  # what hypothesis prints of a failing example: the change, not the whole file
        return f"Change({self.what!r})"

    def __iter__(self):
        return iter((self.text, self.must_refuse, self.what))


@st.composite
def one_leaf_changed(draw, doc: dict) -> Change:
    """The changed results.json text, whether the change is a number no reader may accept, a description."""
    path = draw(st.sampled_from(leaves(doc)))
    changed = json.loads(json.dumps(doc))
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    kind = draw(st.sampled_from(["non-finite", "other", "delete"]))
    raw = None
    if kind == "delete":
        del parent[path[-1]]
    elif kind == "non-finite":
        raw = draw(st.sampled_from(NON_FINITE))
        parent[path[-1]] = RAW
    else:
        old = parent[path[-1]]
        parent[path[-1]] = draw(st.sampled_from([v for v in OTHER_VALUES if v != old or type(v) is not type(old)]))
    text = json.dumps(changed, indent=1)
    if raw is not None:
        text = text.replace(json.dumps(RAW), raw)
    value = raw if raw is not None else ("(deleted)" if kind == "delete" else json.dumps(parent[path[-1]])[:40])
    return Change(text, raw is not None, f"{'.'.join(map(str, path))} -> {value}")


def call(main, args: list[str]) -> tuple[int, list[str]]:
    """Run a command's main in-process: (exit status, stderr lines); a traceback fails the test by itself."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as e:  # argparse
            code = int(e.code or 0)
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


def check_answer(code: int, lines: list[str], *, must_refuse: bool, skip_invalid: bool, what: str) -> None:
    if code == 2:
        assert len(lines) >= 1 and lines[-1].startswith("error: "), (what, lines)
        assert all(line.startswith(("error: ", "warning: ")) for line in lines), (what, lines)
        return
    assert code == 0, (what, code, lines)
    assert all(line.startswith("warning: ") for line in lines), (what, lines)
    if must_refuse:
        assert skip_invalid and any(line.endswith("(skipped)") for line in lines), f"{what}: accepted silently"


def write_folder(root: Path, text: str) -> Path:
    folder = Path(tempfile.mkdtemp(dir=root))
    (folder / "run").mkdir()
    (folder / "run" / "results.json").write_text(text)
    return folder


PROPERTY = settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_leaves_cover_the_whole_file(real_run):
    _, doc = real_run
    paths = leaves(doc)
    assert ("config", "seed") in paths and ("generations", 1, "metrics", "fid") in paths
    assert len(paths) > 100


@PROPERTY
@given(data=st.data())
def test_every_reader_refuses_a_changed_leaf_in_one_line(real_run, tmp_path, data):
    _, doc = real_run
    text, must_refuse, what = data.draw(one_leaf_changed(doc))
    folder = write_folder(tmp_path, text)
    path = folder / "run" / "results.json"

    # the shared loader and summary: a BenchError (one line) or a document whose numbers are all finite
    try:
        loaded = load_results(path)
    except BenchError as e:
        assert "\n" not in str(e) and str(e).startswith(f"{path}: "), (what, str(e))
    else:
        assert not must_refuse, f"{what}: accepted by load_results"
        if loaded["status"] == "finished":
            summary_scores(loaded)
            describe_runs([loaded])  # the reproductions page's setup and machine lines

    for skip in (False, True):
        flag = ["--skip-invalid"] if skip else []
        out = Path(tempfile.mkdtemp(dir=tmp_path))
        code, lines = call(leaderboard_main, [str(folder), "--out", str(out), "--bootstrap", "0", *flag])
        check_answer(code, lines, must_refuse=must_refuse, skip_invalid=skip, what=f"leaderboard: {what}")
        code, lines = call(critical_main, [str(folder), "--bootstrap", "0", *flag])
        check_answer(code, lines, must_refuse=must_refuse, skip_invalid=skip, what=f"critical_fraction: {what}")
    shutil.rmtree(folder)


@PROPERTY
@given(data=st.data())
def test_reproductions_reads_a_changed_leaf_without_a_traceback(real_run, tmp_path, data):
    """The reproductions page reads every run under --outputs (invalid ones left out) and judges the arms it finds:
    here every arm is made to match the tiny run and a second seed of it, so the changed file reaches the rules."""
    from bench.analysis.reproductions.claims import ARMS, CLAIMS
    from bench.analysis.reproductions.evidence import Evidence, _key, collect
    from bench.analysis.reproductions.judge import judge

    _, doc = real_run
    text, must_refuse, what = data.draw(one_leaf_changed(doc))
    folder = write_folder(tmp_path, text)
    second = json.loads(json.dumps(doc))
    second["config"]["seed"] = 1
    (folder / "seed1").mkdir()
    (folder / "seed1" / "results.json").write_text(json.dumps(second))
    keys = {key: _key(result_config(doc["config"])) for key in ARMS}
    found = collect([folder], list(ARMS.values()), [0, 1], keys)
    changed_run = found["replace"].runs.get(0)
    assert not (must_refuse and changed_run is not None), f"{what}: accepted by reproductions"
    evidence = Evidence(found)
    for claim in CLAIMS:
        if claim.key != "gaussian" and not evidence.missing(claim.arms):
            judge(claim, evidence)
    describe_runs([r.results for a in found.values() for r in a.runs.values()])
    shutil.rmtree(folder)


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_resample_refuses_a_changed_leaf_in_one_line(real_run, tmp_path, data):
    run_dir, doc = real_run
    # the leaves resampling rebuilds from: config, evaluation, generations (the rest is the leaderboard's)
    text, must_refuse, what = data.draw(one_leaf_changed({k: doc[k] for k in doc}))
    copy = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("resampled", "run.lock"))
    (copy / "results.json").write_text(text)
    try:
        record = resample(copy, 0, {})
    except BenchError as e:
        assert "\n" not in str(e), (what, str(e))
    else:
        assert not must_refuse, f"{what}: accepted by resample"
        assert record["metrics"]["fid"] is not None
    shutil.rmtree(copy.parent)


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize("leaf", [("config", "seed"), ("generations", 1, "metrics", "fid"), ("floor", "fid")])
def test_a_non_finite_or_huge_number_is_refused_by_every_command(real_run, tmp_path, leaf, token):
    """The table's cases pinned, not drawn: `"seed": 10^400`, `"fid": 1e999`, NaN ... in every command."""
    _, doc = real_run
    changed = json.loads(json.dumps(doc))
    node = changed
    for key in leaf[:-1]:
        node = node[key]
    node[leaf[-1]] = RAW
    folder = write_folder(tmp_path, json.dumps(changed).replace(json.dumps(RAW), token))
    for main, args in ((leaderboard_main, ["--out", str(tmp_path / "board")]), (critical_main, [])):
        code, lines = call(main, [str(folder), *args])
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
        assert ".".join(map(str, leaf)).replace(".1.", "[1].") in lines[0], lines
        code, lines = call(main, [str(folder), *args, "--skip-invalid"])
        assert lines and lines[0].startswith("warning: ") and lines[0].endswith("(skipped)"), lines


def test_reproductions_leaves_out_a_400_digit_seed_without_a_traceback(real_run, tmp_path, monkeypatch, capsys):
    """The table's case: `"seed": 10^400` gave an OverflowError traceback in `python -m bench.reproductions`."""
    from bench.analysis.reproductions.claims import CLAIMS
    from bench.cli.reproductions import main as reproductions_main

    _, doc = real_run
    text = json.dumps(doc).replace('"seed": 0', '"seed": 1' + "0" * 400, 1)
    assert text != json.dumps(doc)
    folder = write_folder(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    claim = next(c.key for c in CLAIMS if c.key != "gaussian")  # the Gaussian claim simulates; the others read
    code = reproductions_main(["--no-run", "--outputs", str(folder), "--claims", claim, "--out", "page.md"])
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    assert "not run" in (tmp_path / "page.md").read_text().lower()
