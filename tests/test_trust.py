"""The trust boundary: a run folder from elsewhere is data, never code (bench.build, bench.cli.resample; issue 20).

A tiny real run (data=digits, model=gaussian: seconds) is resampled after one file of it is changed at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.build import build, check_config_targets, only_registered_targets, registered_targets
from bench.cli.resample import main as resample_main
from bench.cli.resample import parse_overrides, resample
from bench.errors import BenchError

REPO = Path(__file__).resolve().parents[1]

TINY_GAUSSIAN = [
    "data=digits",
    "model=gaussian",
    "loop.generations=3",  # the reproductions rules compare the last generation with the third from last
    "metrics.n_samples=200",
    "metrics.n_reference=300",
    "metrics.kid_subset_size=100",
    "metrics.kid_subsets=5",
    "trainer.enable_progress_bar=false",
]


def make_tiny_run(run_dir: Path) -> dict:
    """A finished three-generation run in `run_dir` (digits, the closed-form Gaussian model: a few seconds)."""
    from bench.config import compose
    from bench.engine.run import run

    return run(compose([*TINY_GAUSSIAN, f"run_dir={run_dir}"]))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("trust") / "run"
    assert make_tiny_run(run_dir)["status"] == "finished"
    return run_dir


def copy_run(run_dir: Path, dest: Path, **changes) -> Path:
    """A copy of the run folder with results.json's config nodes changed (`data={"_target_": ...}` merges)."""
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("resampled", "run.lock"))
    results = json.loads((dest / "results.json").read_text())
    for key, value in changes.items():
        if value is None:
            del results["config"][key]
        else:
            results["config"][key] = {**results["config"][key], **value}
    (dest / "results.json").write_text(json.dumps(results))
    return dest


def one_line_error(capsys, code: int) -> str:
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in captured.err
    return err


# ---------------------------------------------------------------- the registry of targets


def test_every_target_our_configs_name_is_registered_and_nothing_else_outside_bench():
    named = set()
    for path in (REPO / "conf").rglob("*.yaml"):
        for line in path.read_text().splitlines():
            stripped = line.split("#", 1)[0].strip()
            if stripped.startswith("_target_:"):
                named.add(stripped.removeprefix("_target_:").strip())
    from bench.features.select import STANDARD

    assert named | set(STANDARD.values()) == set(registered_targets())
    outside = {t for t in registered_targets() if not t.startswith("bench.")}
    assert outside == {"lightning.pytorch.loggers.CSVLogger"}


def test_build_refuses_an_unregistered_target_only_inside_the_boundary(tmp_path):
    marker = tmp_path / "ran"
    node = {"_target_": "pathlib.Path.touch", "self": marker}
    with only_registered_targets(), pytest.raises(BenchError) as e:
        build(node)
    assert str(e.value) == (
        "_target_ 'pathlib.Path.touch' is not one of the benchmark's own targets: a stored config is data, not "
        "code; if you trust this run folder's code, pass --allow-target pathlib.Path.touch"
    )
    assert not marker.exists()
    with only_registered_targets(allow=["pathlib.Path.touch"]):
        build(node)
    assert marker.exists(), "a target the user names is built"
    marker.unlink()
    build(node)  # outside the boundary (a config the user composed) every target is the user's choice
    assert marker.exists()


def test_a_nested_or_non_string_target_anywhere_in_a_stored_config_is_refused():
    config = {"model": {"_target_": "bench.models.vae.VAE", "prior": {"_target_": "os.system", "command": "x"}}}
    with pytest.raises(BenchError, match=r"^config\.model\.prior\._target_ 'os\.system' is not one of"):
        check_config_targets(config)
    check_config_targets(config, allow=["os.system"])
    with pytest.raises(BenchError, match=r"config\.trainer\.callbacks\[1\]\._target_ 'builtins\.exec'"):
        check_config_targets(
            {"trainer": {"callbacks": [{"_target_": "bench.loops.real.Real"}, {"_target_": "builtins.exec"}]}}
        )
    with pytest.raises(
        BenchError, match=r'^config\.data\._target_ \["os", "system"\] is not the name of a class or function$'
    ):
        check_config_targets({"data": {"_target_": ["os", "system"]}})


# ---------------------------------------------------------------- resample on a hostile or broken run folder


@pytest.mark.parametrize("target", ["subprocess.run", "os.system"])
def test_resample_refuses_a_foreign_target_and_runs_nothing(tiny_run, tmp_path, capsys, target):
    marker = tmp_path / "created_by_the_config"
    args = ["touch", str(marker)] if target == "subprocess.run" else f"touch {marker}"
    key = "args" if target == "subprocess.run" else "command"
    evil = copy_run(tiny_run, tmp_path / "evil", data={"_target_": target, key: args})
    before = sorted(p.relative_to(evil) for p in evil.rglob("*"))
    err = one_line_error(capsys, resample_main([str(evil), "generation=0"]))
    assert err == (
        f"error: {evil / 'results.json'}: config.data._target_ '{target}' is not one of the benchmark's own "
        f"targets: a stored config is data, not code; if you trust this run folder's code, pass --allow-target {target}"
    )
    assert not marker.exists(), "the stored config ran a command"
    assert sorted(p.relative_to(evil) for p in evil.rglob("*")) == before, "nothing written into the folder"


def test_resample_refuses_a_foreign_target_in_a_subprocess(tiny_run, tmp_path):
    marker = tmp_path / "pwned"
    evil = copy_run(tiny_run, tmp_path / "evil", data={"_target_": "subprocess.run", "args": ["touch", str(marker)]})
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli.resample", str(evil), "generation=0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and not marker.exists()
    assert done.stderr.count("\n") == 1 and "config.data._target_ 'subprocess.run'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_users_own_model_class_resamples_when_named(tiny_run, tmp_path, capsys):
    """--allow-target is how a run of your own model class resamples; without it, one line says so."""
    own = copy_run(tiny_run, tmp_path / "own", model={"_target_": "tests_own_model.OwnGaussian"})
    (tmp_path / "tests_own_model.py").write_text(
        "from bench.models.gaussian import Gaussian\n\n\nclass OwnGaussian(Gaussian):\n    pass\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        err = one_line_error(capsys, resample_main([str(own), "generation=1"]))
        assert "--allow-target tests_own_model.OwnGaussian" in err
        assert resample_main([str(own), "generation=1", "--allow-target", "tests_own_model.OwnGaussian"]) == 0
    finally:
        sys.path.remove(str(tmp_path))
    samples = np.load(own / "gen_001" / "resampled" / "as_run" / "samples.npy")
    assert np.array_equal(samples, np.load(own / "gen_001" / "samples.npy")[: len(samples)])


def test_resample_of_a_later_generation_gives_its_samples_back_exactly(tiny_run):
    record = resample(tiny_run, 1, {})
    original = np.load(tiny_run / "gen_001" / "samples.npy")
    again = np.load(tiny_run / "gen_001" / "resampled" / "as_run" / "samples.npy")
    assert np.array_equal(again, original[: len(again)]) and len(again) == 200
    run_record = json.loads((tiny_run / "gen_001" / "record.json").read_text())
    assert record["metrics"] == run_record["metrics"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("truncated", "results.json: not JSON ("),
        ("no config", "results.json: config missing"),
        ("no model", "results.json: config.model missing or not a config node; resampling rebuilds it"),
        ("model a string", 'results.json: config.model is "gaussian", expected an object'),
        ("n_samples", 'results.json: evaluation.n_generated is 200, config.metrics.n_samples is "200"'),
        ("no n_samples", "results.json: config.metrics.n_samples is None, expected a positive integer"),
        ("bad model argument", "the run cannot be rebuilt from its config (TypeError: "),
        ("interpolation", "results.json: config cannot be read back (InterpolationKeyError"),
        ("record NaN", "gen_000/record.json: metrics.fid is NaN, which is not JSON (write null)"),
        ("fid 1e999", "results.json: generations[0].metrics.fid is 1e999, which overflows a 64-bit float"),
    ],
)
def test_resample_on_a_broken_results_json_is_one_line(tiny_run, tmp_path, capsys, change, message):
    folder = copy_run(tiny_run, tmp_path / "broken")
    path = folder / "results.json"
    text = path.read_text()
    doc = json.loads(text)
    if change == "truncated":
        path.write_text(text[: len(text) // 2])
    elif change == "record NaN":
        record = folder / "gen_000" / "record.json"
        record.write_text(record.read_text().replace('"fid": ', '"fid": NaN, "x": ', 1))
    elif change == "fid 1e999":
        fid = doc["generations"][0]["metrics"]["fid"]
        path.write_text(text.replace(f'"fid": {json.dumps(fid)}', '"fid": 1e999', 1))
    else:
        if change == "no config":
            del doc["config"]
        elif change == "no model":
            del doc["config"]["model"]
        elif change == "model a string":
            doc["config"]["model"] = "gaussian"
        elif change == "n_samples":
            doc["config"]["metrics"]["n_samples"] = "200"
        elif change == "no n_samples":
            del doc["config"]["metrics"]["n_samples"]
        elif change == "bad model argument":
            doc["config"]["model"]["no_such_argument"] = 1
        elif change == "interpolation":
            doc["config"]["model"]["reg"] = "${nowhere.at_all}"
        path.write_text(json.dumps(doc))
    err = one_line_error(capsys, resample_main([str(folder), "generation=0"]))
    assert message in err, err
    assert not (folder / "gen_000" / "resampled").exists()


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("device=bogus", "device='bogus' is not a torch device; allowed: cpu, cuda, cuda:N, mps"),
        ("device=cuda:7", "device='cuda:7' is not available on this machine; cpu is"),
    ],
)
def test_resample_refuses_a_device_before_any_work(arg, message):
    if arg == "device=cuda:7" and __import__("torch").cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    with pytest.raises(BenchError) as e:
        parse_overrides(["generation=0", arg])
    assert str(e.value) == message


def test_resample_of_a_missing_folder_creates_nothing(tmp_path, capsys):
    err = one_line_error(capsys, resample_main([str(tmp_path / "nowhere"), "generation=0"]))
    assert err == f"error: {tmp_path / 'nowhere'} holds no results.json: not a run folder"
    assert not (tmp_path / "nowhere").exists()


def test_resample_writes_no_cache_where_a_stored_config_points(tiny_run, tmp_path):
    """cache_dir in a stored config is a path on someone else's machine: resampling uses this machine's own."""
    elsewhere = tmp_path / "their_cache"
    folder = copy_run(tiny_run, tmp_path / "moved")
    doc = json.loads((folder / "results.json").read_text())
    doc["config"]["cache_dir"] = str(elsewhere)
    (folder / "results.json").write_text(json.dumps(doc))
    resample(folder, 0, {"temperature": 0.5})
    assert not elsewhere.exists()


def test_resample_runs_no_hub_code_a_stored_config_points_to(tiny_run, tmp_path, monkeypatch):
    """metrics.extractor_hub_dir names a folder whose hubconf.py torch.hub.load would run: a stored one is not used
    (DINOv2's code comes from this machine's torch hub cache, here empty: one line says so)."""
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty_hub_cache"))
    hub = tmp_path / "their_hub"
    hub.mkdir()
    (hub / "hubconf.py").write_text(f"open({str(tmp_path / 'hub_ran')!r}, 'w').close()\n")
    (tmp_path / "weights.pth").write_bytes(b"")
    folder = copy_run(tiny_run, tmp_path / "hub")
    doc = json.loads((folder / "results.json").read_text())
    metrics = doc["config"]["metrics"]
    metrics.update(extractor="dinov2", extractor_hub_dir=str(hub), extractor_weights=str(tmp_path / "weights.pth"))
    (folder / "results.json").write_text(json.dumps(doc))
    with pytest.raises(BenchError) as e:
        resample(folder, 0, {})
    assert "empty_hub_cache" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "hub_ran").exists(), "a stored config chose code for torch.hub to run"


@pytest.mark.parametrize("value", ["²", "-1", "1.0", "1" * 400, ""])
def test_resample_generation_must_be_a_plain_number(value):
    with pytest.raises(BenchError) as e:
        parse_overrides([f"generation={value}"])
    assert str(e.value) == f"generation={value!r} must be a generation number (0, 1, ...)"
