"""The real side of scoring (split, cache, floor) and the standalone evaluator."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from bench.cli.evaluate import main as evaluate_main
from bench.engine.evaluation import Evaluator, RealSplit
from bench.errors import BenchError
from bench.io.image_files import load_images

METRICS = OmegaConf.create(
    {
        "extractor": "mnist_classifier",
        "n_samples": 1000,
        "n_reference": 2000,
        "k_precision_recall": 3,
        "k_density_coverage": 5,
        "kid_subset_size": 500,
        "kid_subsets": 10,
        "bootstrap": 0,
    }
)


def test_split_is_disjoint_random_and_seeded():
    s = RealSplit.make(10000, n_reference=5000, n_floor=2000, seed=0)
    assert len(set(s.reference.tolist()) | set(s.floor.tolist())) == 7000
    # not a half of the test set: both halves (different writers) are represented about equally
    first_half = (s.reference < 5000).float().mean().item()
    assert 0.45 < first_half < 0.55
    assert torch.equal(s.reference, RealSplit.make(10000, n_reference=5000, n_floor=2000, seed=0).reference)
    with pytest.raises(BenchError, match="exceeds the 10000 real test images"):
        RealSplit.make(10000, n_reference=9000, n_floor=2000, seed=0)


def test_real_side_is_cached_by_checksum_and_extractor(mnist, tmp_path, monkeypatch):
    first = Evaluator(mnist, METRICS, cache_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(mnist.checksum[:16] in n and first.extractor.sha256[:16] in n for n in names)

    def no_extraction(*a, **k):
        raise AssertionError("cached test features must not be recomputed")

    monkeypatch.setattr(type(first.extractor), "extract", no_extraction)
    second = Evaluator(mnist, METRICS, cache_dir=tmp_path)
    assert torch.equal(second.reference.features, first.reference.features)
    monkeypatch.undo()
    # a damaged cache entry is recomputed, never trusted
    for p in tmp_path.iterdir():
        p.write_bytes(b"not a torch file")
    third = Evaluator(mnist, METRICS, cache_dir=tmp_path)
    assert torch.equal(third.reference.features, first.reference.features)


def test_floor_looks_like_a_perfect_generator(mnist, tmp_path):
    floor = Evaluator(mnist, METRICS, cache_dir=tmp_path).floor(seed=0)
    assert floor["classes_covered"] == 10 and floor["kl_gen_real"] < 0.02
    assert floor["precision"] > 0.8 and floor["recall"] > 0.8 and floor["coverage"] > 0.8
    assert abs(floor["c2st_accuracy"] - 0.5) < 0.06


def test_load_images_accepts_common_layouts(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "b.npy", x[..., None])
    np.savez(tmp_path / "c.npz", images=x[:, None])
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
    for path in ("a.npy", "b.npy", "c.npz", "pngs"):
        got = load_images(tmp_path / path, (1, 28, 28))
        assert got.dtype == torch.uint8 and np.array_equal(got.squeeze(1).numpy(), x), path


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda d: np.save(d / "s.npy", np.zeros((5, 32, 32), np.uint8)),
            "has shape (5, 32, 32); allowed: (N, 28, 28) or (N, 1, 28, 28) or (N, 28, 28, 1)",
        ),
        (lambda d: np.save(d / "s.npy", np.zeros((5, 28, 28), np.float32)), "has dtype float32; images must be uint8"),
        (lambda d: np.save(d / "s.npy", np.array([{"a": 1}], dtype=object)), "cannot be read as a numpy array"),
        (lambda d: (d / "s.npy").write_text("hello"), "cannot be read as a numpy array"),
        (lambda d: None, "does not exist"),
    ],
)
def test_bad_samples_are_one_line_errors(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(BenchError) as e:
        load_images(tmp_path / "s.npy", (1, 28, 28))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_evaluator_cli_too_few_images(tmp_path, capsys):
    np.save(tmp_path / "few.npy", np.zeros((10, 28, 28), np.uint8))
    assert evaluate_main(["--samples", str(tmp_path / "few.npy")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: --samples holds 10 images; at least metrics.kid_subset_size=1000 are needed"
    )


def test_evaluator_cli_scores_real_digits_near_the_floor(mnist, tmp_path, monkeypatch):
    # real training digits are not the test writers, but they are real: near-floor scores
    np.save(tmp_path / "real.npy", mnist.train_images[:1200].numpy())
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli.evaluate",
            "--samples",
            str(tmp_path / "real.npy"),
            "--out",
            str(tmp_path / "m.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "fid" in out.stdout and "floor" in out.stdout
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["n_scored"] == result["n_given"] == 1200
    m, f = result["metrics"], result["floor"]
    assert m["classes_covered"] == 10 and m["recall"] > 0.75 and m["fid"] < 5 * f["fid"] + 10
    # a one-class "generator" scores badly on the same scale
    ones = mnist.train_images[mnist.train_labels == 1][:1200].numpy()
    run_gen = tmp_path / "run" / "gen_000"  # samples inside a run folder: the JSON goes to the working directory
    run_gen.mkdir(parents=True)
    np.save(run_gen / "ones.npy", ones)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert evaluate_main(["--samples", str(run_gen / "ones.npy")]) == 0
    assert sorted(p.name for p in run_gen.iterdir()) == ["ones.npy"], "nothing is written into the run folder"
    bad = json.loads((tmp_path / "cwd" / "ones.npy.metrics.json").read_text())["metrics"]
    assert bad["classes_covered"] == 1 and bad["kl_gen_real"] > 2.0 and bad["fid"] > 10 * m["fid"]
