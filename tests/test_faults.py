"""Faults that once passed every test, one test each (issue 10). Each fails when its fault is planted.

Deterministic and timing-free: the commit order is checked by making a write fail mid-generation.
"""

from __future__ import annotations

import csv
import importlib
import inspect

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import bench.report.run_folder as run_folder_module
from bench.__main__ import CONF_DIR
from bench.build import build
from bench.loops import LoopContext
from bench.metrics import prdc, score
from bench.report.results import write_metrics_csv
from bench.report.run_folder import RunFolder
from conftest import tiny_overrides

# the module, not the function `fid` that bench.metrics exports under the same name
fid_module = importlib.import_module("bench.metrics.fid")

TINY = tiny_overrides(n_train=64, generations=2)


def compose_cfg(*overrides):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=list(overrides))


# replay's real part comes from D_0, not from the whole real pool


def test_replay_draws_its_real_part_from_d0_only():
    pool = torch.arange(200, dtype=torch.uint8).view(200, 1, 1, 1)  # image i has pixel value i (< 255)
    initial_index = torch.arange(0, 200, 10)  # D_0: 20 images, values 0, 10, 20, ...
    ctx = LoopContext(
        seed=0,
        initial=pool[initial_index],
        real_pool=pool,
        initial_index=initial_index,
        synthetic=lambda s: torch.full((20, 1, 1, 1), 255, dtype=torch.uint8),
    )
    loop = build(compose_cfg("loop=replay", "data.n_train=20", "loop.real_fraction=0.5").loop)
    d0 = set(initial_index.tolist())
    for t in (1, 2, 3):
        ts = loop.training_set(t, ctx)
        real = [int(v) for v in ts.images.flatten() if v != 255]
        assert len(real) == ts.n_real == 10
        assert set(real) <= d0, f"gen {t}: replay drew real images outside D_0: {sorted(set(real) - d0)}"


# every random stream of a generation depends on the generation


@pytest.fixture
def recorded_seeds(monkeypatch, tmp_path):
    """One tiny two-generation run() with every derive_seed / generator call of a generation's steps recorded."""
    import bench.engine.generation as generation_module
    import bench.engine.run as run_module

    calls: dict[str, list[int]] = {}
    derive, make_generator = generation_module.derive_seed, generation_module.generator

    def recording_derive(seed, *keys):
        value = derive(seed, *keys)
        calls.setdefault(str(keys[0]), []).append(value)
        return value

    def recording_generator(seed, *keys):
        g = make_generator(seed, *keys)
        calls.setdefault(str(keys[0]), []).append(g.initial_seed())
        return g

    monkeypatch.setattr(generation_module, "derive_seed", recording_derive)
    monkeypatch.setattr(generation_module, "generator", recording_generator)
    run_module.run(compose_cfg(*TINY, "loop=real", f"run_dir={tmp_path / 'run'}"))
    return calls


def test_init_train_and_sample_seeds_depend_on_the_generation(recorded_seeds):
    for purpose in ("init", "train", "sample"):
        seeds = recorded_seeds.get(purpose, [])
        assert len(seeds) >= 2, f"run() derives no {purpose!r} seed per generation (recorded: {sorted(recorded_seeds)})"
        assert len(set(seeds)) == len(seeds), f"the {purpose!r} seed is the same in every generation: {seeds}"


# a generation is committed whole or not at all: written in gen_XXX.tmp/, record.json last, then renamed


def commit(folder: RunFolder, t: int = 0):
    samples = torch.full((4, 1, 4, 4), 7, dtype=torch.uint8)
    folder.commit_generation(t, record={"generation": t}, state_dict={"w": torch.ones(2)}, samples=samples)


def test_generation_commit_writes_record_last_inside_tmp(tmp_path, monkeypatch):
    written = []
    real_write = run_folder_module.write_bytes

    def recording_write(path, data):
        written.append(path)
        assert not (tmp_path / "gen_000").exists(), "the final folder exists before the generation is complete"
        return real_write(path, data)

    monkeypatch.setattr(run_folder_module, "write_bytes", recording_write)
    commit(RunFolder(tmp_path))
    assert len(written) >= 2
    assert all(p.parent.name == "gen_000.tmp" for p in written), f"written outside gen_000.tmp/: {written}"
    assert written[-1].name == "record.json", f"record.json must be written last, order was {[p.name for p in written]}"
    assert (tmp_path / "gen_000" / "record.json").is_file() and not (tmp_path / "gen_000.tmp").exists()


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_a_write_failing_mid_generation_leaves_nothing_taken_as_finished(tmp_path, monkeypatch, fail_at):
    calls = 0
    real_write = run_folder_module.write_bytes

    def failing_write(path, data):
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(28, "No space left on device (planted)")
        return real_write(path, data)

    folder = RunFolder(tmp_path)
    monkeypatch.setattr(run_folder_module, "write_bytes", failing_write)
    with pytest.raises(OSError, match="planted"):
        commit(folder)
    assert folder.finished() == [], "a half-written generation is taken as finished"
    assert not (tmp_path / "gen_000").exists() or not (tmp_path / "gen_000" / "record.json").exists()

    monkeypatch.setattr(run_folder_module, "write_bytes", real_write)
    folder = RunFolder(tmp_path)  # the re-run: clear leftovers, redo generation 0
    folder.clear_partial()
    assert folder.finished() == []
    commit(folder)
    assert folder.finished() == [0]
    assert torch.equal(folder.load_samples(0), torch.full((4, 1, 4, 4), 7, dtype=torch.uint8))


# the VAE: KL warm-up and the posterior-collapse threshold


class _FakeTrainer:
    num_training_batches = 10
    global_step = 0


def _vae_with_fixed_losses(monkeypatch, kl_nats: float, **kwargs):
    from bench.models.vae import VAE

    model = VAE(image_shape=(1, 28, 28), **kwargs)
    monkeypatch.setattr(
        model, "losses", lambda images, generator=None: (torch.ones(len(images)), torch.full((len(images),), kl_nats))
    )
    monkeypatch.setattr(model, "log_dict", lambda *a, **k: None)
    return model


def test_vae_warms_the_kl_weight_up_from_near_zero(monkeypatch):
    model = _vae_with_fixed_losses(monkeypatch, 10.0, kl_warmup_epochs=2)
    trainer = _FakeTrainer()
    model.trainer = trainer
    images = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    batch = (images, torch.zeros(4, dtype=torch.long))
    first = float(model.training_step(batch, 0))
    trainer.global_step = 10 * 2  # warm-up over: 2 epochs of 10 batches
    later = float(model.training_step(batch, 0))
    assert later == pytest.approx(1.0 + 10.0), "after warm-up the loss is recon + KL"
    assert first < 1.0 + 0.1 * 10.0, f"the first step must weigh the KL by ~0 (warm-up), loss was {first}"


def test_vae_flags_posterior_collapse_below_one_nat_only(monkeypatch):
    images = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    healthy = _vae_with_fixed_losses(monkeypatch, 5.0).diagnostics(images)
    assert healthy["posterior_collapse"] is False and healthy["warnings"] == [], "5 nats of latent KL is a used latent"
    collapsed = _vae_with_fixed_losses(monkeypatch, 0.5).diagnostics(images)
    assert collapsed["posterior_collapse"] is True and any("posterior collapse" in w for w in collapsed["warnings"])


# metrics.csv: counts and metric sample sizes never share a column, and every value arrives


def test_metrics_csv_keeps_counts_and_every_metric_value(tmp_path):
    record = {
        "generation": 0,
        "counts": {"real": 300, "synthetic": 0, "total": 300, "sampled": 300},
        "seconds": {"train": 1.0, "sample": 0.5, "eval": 0.25},
        "diagnostics": {"latent_kl_nats": 3.5},
        "metrics": {"fid": 12.5, "precision": 0.75, "n_gen": 200, "n_real": 400, "class_shares": [0.25, 0.75]},
    }
    write_metrics_csv(tmp_path / "metrics.csv", [record])
    with open(tmp_path / "metrics.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["n_real"], row["n_synthetic"], row["n_total"]) == ("300", "0", "300"), "counts were overwritten"
    assert (row["n_gen_scored"], row["n_ref_scored"]) == ("200", "400")
    assert (row["fid"], row["precision"], row["latent_kl_nats"]) == ("12.5", "0.75", "3.5")
    assert (row["class_share_0"], row["class_share_1"]) == ("0.25", "0.75")
    assert all(v != "" for v in row.values()), f"blank values in {row}"


# score() and prdc() share one radius convention by default


def test_score_and_prdc_default_to_the_same_inequality():
    score_default = inspect.signature(score).parameters["strict"].default
    prdc_default = inspect.signature(prdc).parameters["strict"].default
    assert score_default is prdc_default is False, "d <= r (non-strict) is the documented default of both"


# FID's own closed form (used when torchmetrics' private function is missing)


def test_fid_fallback_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    a, b = (torch.randn(5, 5, generator=g, dtype=torch.float64) for _ in range(2))
    s1, s2 = a @ a.T + 0.1 * torch.eye(5, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(5, dtype=torch.float64)
    # diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt(d1) - sqrt(d2))^2 exactly
    d1, d2 = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64), torch.tensor([4.0, 1.0, 16.0], dtype=torch.float64)
    m1, m2 = torch.zeros(3, dtype=torch.float64), torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    expected = 5.0 + float(((d1.sqrt() - d2.sqrt()) ** 2).sum())
    fallback = fid_module._compute_fid_fallback
    assert float(fallback(m1, torch.diag(d1), m2, torch.diag(d2))) == pytest.approx(expected, rel=1e-9)
    if fid_module._tm_compute_fid is not None:
        reference = float(fid_module._tm_compute_fid(mu1, s1, mu2, s2))
        assert float(fallback(mu1, s1, mu2, s2)) == pytest.approx(reference, rel=1e-6)


def test_fid_uses_the_fallback_when_torchmetrics_lacks_it(monkeypatch):
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = x + 0.5
    with_tm = fid_module.fid(x, y)
    monkeypatch.setattr(fid_module, "_tm_compute_fid", None)
    assert fid_module.fid(x, y) == pytest.approx(with_tm, rel=1e-6)


# the floor scores held-out real images, disjoint from the reference


def test_floor_scores_the_held_out_set_not_the_reference(mnist, tmp_path):
    import os

    from bench.engine.evaluation import Evaluator

    metrics_cfg = OmegaConf.create(
        OmegaConf.to_container(compose_cfg(*TINY, f"run_dir={tmp_path}").metrics, resolve=True)
    )
    ev = Evaluator(mnist, metrics_cfg, cache_dir=os.environ["BENCH_CACHE_DIR"])
    test_feats, _ = ev.test_features()
    reference_rows = {tuple(r) for r in test_feats[ev.split.reference].tolist()}
    scored = []
    ev.score_features = lambda feats, labels, *, seed: scored.append(feats) or {}
    ev.floor(seed=0)
    (floor_feats,) = scored
    assert len(floor_feats) == int(metrics_cfg.n_samples)
    overlap = sum(tuple(r) in reference_rows for r in floor_feats.tolist())
    assert overlap == 0, f"{overlap} floor images are reference images: the floor must use the disjoint held-out set"
    held_out = {tuple(r) for r in test_feats[ev.split.floor].tolist()}
    assert all(tuple(r) in held_out for r in floor_feats.tolist())
