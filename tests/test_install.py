"""The package as a user installs it: `pip install .` (not editable) runs, and a user's own config folder adds a
model without an edit to this package."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_overrides

REPO = Path(__file__).resolve().parents[1]
TINY = tiny_overrides(generations=1)


def python(*args, cwd, env=None, timeout=600):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_a_non_editable_install_runs_a_smoke_run(tmp_path):
    site = tmp_path / "site"
    # a real wheel build and install of this checkout, into a folder of its own (dependencies: the test env's)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    conf = site / "bench" / "conf"
    assert (conf / "config.yaml").is_file() and not conf.is_symlink(), "the wheel carries the configs as files"
    assert sorted(p.name for p in (conf / "model").glob("*.yaml")) == sorted(
        p.name for p in (REPO / "conf" / "model").glob("*.yaml")
    )

    env = {"PYTHONPATH": str(site)}  # before the editable checkout on sys.path
    where = python("-c", "import bench; print(bench.__file__)", cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    run = python("-m", "bench", *TINY, "hydra.run.dir=run", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "results.json").read_text())["status"] == "finished"


def user_model_folder(tmp_path: Path) -> Path:
    """A model of the user's, in a config folder of their own: a narrower VAE under another name."""
    text = (REPO / "conf" / "model" / "vae.yaml").read_text()
    assert "  name: vae\n" in text
    folder = tmp_path / "my_conf"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "small_vae.yaml").write_text(text.replace("  name: vae\n", "  name: small_vae\n"))
    return folder


@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_a_model_from_an_outside_config_folder_runs(tmp_path, how):
    folder = user_model_folder(tmp_path)
    args = ["--config-dir", str(folder)] if how == "--config-dir" else [f"hydra.searchpath=[file://{folder}]"]
    out = python("-m", "bench", *args, "model=small_vae", *TINY, "hydra.run.dir=run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["config"]["model"]["name"] == "small_vae"


def test_an_unknown_model_lists_the_users_models_too(tmp_path):
    folder = user_model_folder(tmp_path)
    out = python("-m", "bench", "--config-dir", str(folder), "model=nope", cwd=tmp_path)
    assert out.returncode == 2
    allowed = "ddpm, flow, gaussian, ldm, small_vae, vae"
    assert out.stderr.strip().splitlines() == [f"error: unknown model 'nope'; allowed: {allowed}"]
