"""Protocols (issue 17): the shipped ones compose clean, a run under one refuses a changed fixed key in one line
before writing anything, and the leaderboard ranks a protocol's runs apart and refuses a result that left it."""

import csv
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bench import protocol
from bench.analysis.aggregate import InvalidResults, Track, load_runs
from bench.analysis.leaderboard import build_leaderboard
from bench.config import compose
from bench.errors import BenchError

REPO = Path(__file__).resolve().parents[1]


def config(*overrides: str) -> dict:
    out = OmegaConf.to_container(compose([*overrides, "run_dir=."]), resolve=True)
    assert isinstance(out, dict)
    return out


def test_every_shipped_protocol_composes_to_itself():
    assert protocol.names() == ["mnist-smoke-v1", "mnist-v1", "stacked-v1", "tails-v1"]
    for name in protocol.names():
        c = config(f"protocol={name}")
        assert protocol.violations(c) == [], name
        assert c["protocol"]["name"] == name and c["protocol"]["version"] == 1
    # the long horizon: one protocol runs 10 generations, enough to tell bounded from still rising
    assert config("protocol=mnist-v1")["loop"]["generations"] == 10


def test_the_model_the_mitigation_and_a_preset_s_recipe_are_free():
    c = config("protocol=mnist-v1", "model=ldm", "loop=replay", "loop.real_fraction=0.3", "sampling.steps=10")
    assert protocol.violations(c) == []
    # a preset sets the model's recipe; the protocol, composed after it, keeps its own generations and sizes
    c = config("protocol=mnist-v1", "experiment=ddpm_cpu", "seed=2", "trainer.num_threads=1")
    assert protocol.violations(c) == [] and c["loop"]["generations"] == 10 and c["trainer"]["max_steps"] == 1000


@pytest.mark.parametrize(
    ("overrides", "first"),
    [
        (["loop.generations=3"], "loop.generations=3 (protocol mnist-v1 fixes 10)"),
        (["data=tails"], "data.name='tails' (protocol mnist-v1 fixes 'mnist')"),
        (["metrics.n_samples=500"], "metrics.n_samples=500 (protocol mnist-v1 fixes 2000)"),
        (["metrics.extractor=inception"], "metrics.extractor='inception' (protocol mnist-v1 fixes None)"),
        (["seed=7"], "seed=7 (protocol mnist-v1 runs seeds [0, 1, 2])"),
        (["protocol.data_checksum=abc"], "protocol.data_checksum='abc' (protocol mnist-v1 fixes '7ea4b60a"),
        (["experiment=smoke", "data.n_train=500"], "data.n_train=500 (protocol mnist-v1 fixes 4000)"),
    ],
)
def test_a_changed_fixed_key_is_named(overrides, first):
    bad = protocol.violations(config("protocol=mnist-v1", *overrides))
    assert bad and bad[0].startswith(first), bad
    with pytest.raises(BenchError, match="may change the model, the loop kind and its settings, and sampling only"):
        protocol.check(config("protocol=mnist-v1", *overrides))


def test_the_cli_refuses_an_override_of_a_fixed_key_in_one_line_before_writing(tmp_path):
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "bench", "protocol=mnist-v1", "loop.generations=3", f"hydra.run.dir={run_dir}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: loop.generations=3 (protocol mnist-v1 fixes 10)"), lines
    # nothing of the run is written: at most Hydra's own log, opened before any of bench's code runs
    assert not run_dir.exists() or [p.name for p in run_dir.iterdir()] == ["bench.log"]


def test_other_files_than_the_protocol_s_are_refused():
    c = config("protocol=mnist-v1")
    protocol.check_assets(c, c["protocol"]["data_checksum"], "mnist_classifier", c["protocol"]["extractor_sha256"])
    with pytest.raises(BenchError, match=r"data checksum is 00, protocol mnist-v1 fixes 7ea4b60a"):
        protocol.check_assets(c, "00", "mnist_classifier", c["protocol"]["extractor_sha256"])
    with pytest.raises(BenchError, match="feature extractor is inception, protocol mnist-v1 fixes mnist_classifier"):
        protocol.check_assets(c, c["protocol"]["data_checksum"], "inception", c["protocol"]["extractor_sha256"])


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """Both seeds of mnist-smoke-v1, for real (the VAE at one epoch a generation: the model's recipe is free)."""
    root = tmp_path_factory.mktemp("smoke")
    for seed in (0, 1):
        cmd = [sys.executable, "-m", "bench", "protocol=mnist-smoke-v1", "trainer.max_epochs=1", f"seed={seed}"]
        out = subprocess.run([*cmd, f"hydra.run.dir={root / f'seed{seed}'}"], capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 0, out.stderr[-2000:]
    return root


@pytest.fixture
def smoke_run(smoke_runs):
    return smoke_runs / "seed0"


def test_a_protocol_run_is_its_own_track_and_a_tampered_one_is_refused(smoke_run, tmp_path):
    results = json.loads((smoke_run / "results.json").read_text())
    assert results["config"]["protocol"]["name"] == "mnist-smoke-v1" and len(results["generations"]) == 3
    (run,) = load_runs([smoke_run])
    assert run.track.protocol == "mnist-smoke-v1" and run.track.label().startswith("protocol mnist-smoke-v1 · ")
    # the same numbers under no protocol sit on another track: never ranked beside the protocol's
    plain = json.loads(json.dumps(results))
    del plain["config"]["protocol"]
    assert Track.of(plain) != run.track and Track.of(plain).protocol == ""
    # a result that claims the protocol but changed a fixed key, or the data it records, is refused by name
    for change, message in (
        (lambda r: r["config"]["health"].update(max_fid_over_floor=100), "health.max_fid_over_floor=100 (protocol"),
        (lambda r: r["dataset"].update(checksum="00"), "data checksum 00 (protocol mnist-smoke-v1 fixes 7ea4b60a"),
    ):
        tampered = json.loads(json.dumps(results))
        change(tampered)
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps(tampered))
        expected = "names protocol mnist-smoke-v1 but has " + message
        with pytest.raises(InvalidResults, match=re.escape(expected)):
            load_runs([folder])


def submit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.submit", *args], capture_output=True, text=True, cwd=REPO)


def test_a_submitted_entry_ranks_exactly_as_its_run_folders(smoke_runs, tmp_path):
    entry = tmp_path / "entry.json"
    out = submit(str(smoke_runs), "--out", str(entry))
    assert out.returncode == 0, out.stderr
    doc = json.loads(entry.read_text())
    assert doc["format"] == "bench-entry" and doc["protocol"] == {"name": "mnist-smoke-v1", "version": 1}
    assert len(doc["runs"]) == 2 and doc["models"] == ["vae"]
    from_folders, from_entry = tmp_path / "folders", tmp_path / "entry"
    build_leaderboard([smoke_runs], out_dir=from_folders, n_resamples=0)
    build_leaderboard([entry], out_dir=from_entry, n_resamples=0)
    for name in ("leaderboard.csv", "leaderboard.md"):
        assert (from_entry / name).read_text() == (from_folders / name).read_text(), name
    rows = list(csv.DictReader((from_entry / "leaderboard.csv").open()))
    # one entry, the VAE under replace over both seeds (not ranked: one epoch a generation fails the health gate)
    assert {(r["protocol"], r["entry"], r["seeds"]) for r in rows} == {("mnist-smoke-v1", "vae replace", "0 1")}
    assert "protocol mnist-smoke-v1" in (from_entry / "leaderboard.md").read_text()


def test_a_tampered_entry_is_refused(smoke_runs, tmp_path):
    entry = tmp_path / "entry.json"
    assert submit(str(smoke_runs), "--out", str(entry)).returncode == 0
    doc = json.loads(entry.read_text())
    run = doc["runs"][1]
    # a number changed without a new checksum: damaged
    edited = json.loads(run["results_json"])
    edited["generations"][2]["metrics"]["fid"] = 1.0
    run["results_json"] = json.dumps(edited)
    entry.write_text(json.dumps(doc))
    with pytest.raises(InvalidResults, match=r"entry.json#1 \(.*\): its results.json does not match its sha256"):
        load_runs([entry])
    # a fixed key changed, checksum recomputed: refused by the protocol, naming the key
    edited["config"]["health"]["max_fid_over_floor"] = 1000
    run["results_json"] = json.dumps(edited)
    run["sha256"] = hashlib.sha256(run["results_json"].encode()).hexdigest()
    entry.write_text(json.dumps(doc))
    with pytest.raises(InvalidResults, match=r"names protocol mnist-smoke-v1 but has health.max_fid_over_floor=1000"):
        load_runs([entry])


def test_submit_refuses_a_run_under_no_protocol_and_writes_nothing(smoke_run, tmp_path):
    plain = json.loads((smoke_run / "results.json").read_text())
    del plain["config"]["protocol"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps(plain))
    out = submit(str(tmp_path / "run"), "--out", str(tmp_path / "entry.json"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "run under no protocol; run it with protocol=<name>" in out.stderr
    assert not (tmp_path / "entry.json").exists()
