"""The newer papers' mitigations as loop settings: weighted real data (`loop.real_weight`, He et al. 2025), and the
curations `entropy` (Shi et al. 2025) and `verifier` (Feng et al. 2025): what they compute, that bad settings stop
before any training, and that a resumed run gives the uninterrupted run's numbers."""

import json
import shutil

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.__main__ import CONF_DIR
from bench.engine.entropy_selection import maximin_selection
from bench.engine.run import run
from bench.engine.train import fit
from bench.engine.verifier import train_verifier
from bench.errors import BenchError
from bench.loops.accumulate import Accumulate
from bench.loops.base import LoopContext, TrainingSet
from bench.loops.replay import Replay
from bench.metrics.entropy import knn_entropy
from bench.models.gaussian import Gaussian
from conftest import tiny_overrides

TINY = tiny_overrides()


def tiny_cfg(run_dir, *overrides):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=[*TINY, f"run_dir={run_dir}", *overrides])


def metric_rows(run_dir):
    return [g["metrics"] for g in json.loads((run_dir / "results.json").read_text())["generations"]]


def resumed_equals_uninterrupted(tmp_path, *overrides) -> list[dict]:
    """Run to the end; copy the folder as a run interrupted after generation 0 would leave it; resume the copy."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run(tiny_cfg(whole, *overrides))
    shutil.copytree(whole, cut)
    for later in sorted(cut.glob("gen_00[1-9]")):
        shutil.rmtree(later)
    run(tiny_cfg(cut, *overrides))
    assert metric_rows(cut) == metric_rows(whole)
    return json.loads((whole / "results.json").read_text())["generations"]


def refused_before_training(tmp_path, overrides, message) -> None:
    """The run stops in one line starting with `message`, before anything is trained or written."""
    with pytest.raises(BenchError) as e:
        run(tiny_cfg(tmp_path, *overrides))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert not list(tmp_path.glob("gen_*")), "nothing may be trained or written for a bad config"


# ---------------------------------------------------------------- loop.real_weight


def test_real_images_carry_the_real_weight_of_the_loss_whatever_their_count():
    loop = Replay(generations=2, synthetic_size=8, real_weight=0.618)
    images = torch.zeros(8, 1, 2, 2, dtype=torch.uint8)
    w = loop.example_weights(TrainingSet(images, 2, 6, "D_0[2] + S_0[6]"))
    assert w is not None
    assert float(w[:2].sum()) == pytest.approx(0.618) and float(w[2:].sum()) == pytest.approx(0.382)
    assert torch.allclose(w[:2], w[0].expand(2)) and torch.allclose(w[2:], w[2].expand(6)), "equal within a kind"
    # all real (generation 0) or no weight: uniform
    assert loop.example_weights(TrainingSet(images, 8, 0, "D_0[8]")) is None
    assert Replay(generations=2, synthetic_size=8).example_weights(TrainingSet(images, 2, 6, "x")) is None


def test_accumulate_under_a_budget_weights_the_rows_that_are_real():
    loop = Accumulate(generations=3, synthetic_size=4, budget=6, real_weight=0.9)
    d0 = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    synthetic = {s: torch.full((4, 1, 2, 2), 100 + s, dtype=torch.uint8) for s in range(2)}
    ctx = LoopContext(seed=0, initial=d0, real_pool=d0, initial_index=torch.arange(4), synthetic=synthetic.__getitem__)
    ts = loop.training_set(2, ctx)
    w = loop.example_weights(ts)
    assert w is not None and ts.n_real > 0 and ts.n_synthetic > 0
    real_rows = ts.images.flatten(1)[:, 0] == 0  # D_0's images are the zero ones
    assert not bool(real_rows[: ts.n_real].all()), "the budget's subsample mixes the rows: the mask is needed"
    assert float(w[real_rows].sum()) == pytest.approx(0.9) and float(w[~real_rows].sum()) == pytest.approx(0.1)


def test_weighted_draws_move_a_models_fit_by_the_weight():
    # D_t: 100 black real images and 900 white synthetic ones. Unweighted, the Gaussian's mean pixel is 0.9 x 255;
    # with the real half of the loss at 0.8 it is (1 - 0.8) x 255, up to the draws' noise (sd ~ 255 x 0.013)
    images = torch.cat([torch.zeros(100, 1, 4, 4), torch.full((900, 1, 4, 4), 255.0)]).to(torch.uint8)
    ts = TrainingSet(images, 100, 900, "D_0[100] + S_0[900]")
    loop = Replay(generations=2, synthetic_size=900, real_fraction=0.1, real_weight=0.8)
    trainer = OmegaConf.create(
        {"accelerator": "cpu", "devices": 1, "max_epochs": 1, "batch_size": 100, "enable_progress_bar": False}
    )
    mean_pixel = {}
    for name, weights in (("uniform", None), ("weighted", loop.example_weights(ts))):
        model = Gaussian(image_shape=(1, 4, 4))
        fit(model, images, trainer_cfg=trainer, seed=0, weights=weights)
        mean_pixel[name] = float(model.mean.mean())
    assert mean_pixel["uniform"] == pytest.approx(0.9 * 255, abs=1e-6)
    assert mean_pixel["weighted"] == pytest.approx(0.2 * 255, abs=4 * 255 * 0.013)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["loop=replay", "loop.real_weight=1.5"], "loop.real_weight=1.5 is outside the allowed range [0, 1]"),
        (["loop=replay", "loop.real_weight=-0.1"], "loop.real_weight=-0.1 is outside the allowed range [0, 1]"),
        (["loop=replace", "loop.real_weight=0.618"], "loop.real_weight=0.618 needs a loop whose D_t mixes real"),
        (["loop=real", "loop.real_weight=0.5"], "loop.real_weight=0.5 needs a loop whose D_t mixes real"),
        (
            ["loop=replay", "loop.real_fraction=1.0", "loop.real_weight=0.5"],
            "loop.real_weight=0.5 with loop.real_fraction=1.0: D_t is all real",
        ),
        (
            ["loop=replay", "loop.real_fraction=0.0", "loop.real_weight=0.5"],
            "loop.real_weight=0.5 with loop.real_fraction=0.0: D_t is all synthetic",
        ),
    ],
)
def test_bad_real_weights_stop_before_training(tmp_path, overrides, message):
    refused_before_training(tmp_path, overrides, message)


def test_the_golden_preset_is_replay_at_one_over_phi(tmp_path):
    cfg = tiny_cfg(tmp_path, "experiment=real_weight_golden")
    assert cfg.loop.name == "replay" and cfg.loop.real_weight == pytest.approx(2 / (1 + 5**0.5))


def test_weighted_replay_runs_records_its_share_and_resumes_exactly(tmp_path):
    generations = resumed_equals_uninterrupted(tmp_path, "loop=replay", "loop.real_weight=0.618")
    assert [g["real_loss_share"] for g in generations] == [None, 0.618, 0.618]


# ---------------------------------------------------------------- loop.curation=entropy


def test_maximin_selection_spreads_the_kept_points():
    # equally isolated points on a line: the first is index 0, then the farthest (10), then the middle (5)
    line = torch.arange(11, dtype=torch.float64)[:, None]
    kept, gap = maximin_selection(line, 3)
    assert kept.tolist() == [0, 5, 10] and gap == 5.0
    # from a tight cluster and a few far points, the far points are kept first
    g = torch.Generator().manual_seed(0)
    x = torch.cat([0.01 * torch.randn(50, 2, generator=g), torch.tensor([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]])])
    kept, _ = maximin_selection(x, 4)
    assert {50, 51, 52} <= set(kept.tolist())


def test_entropy_selection_keeps_a_higher_entropy_set_than_no_selection():
    # candidates: 90% from a narrow mode, 10% from a wide one; the kept half has the higher k-NN entropy
    g = torch.Generator().manual_seed(1)
    x = torch.cat([0.1 * torch.randn(900, 3, generator=g), torch.randn(100, 3, generator=g) + 3.0])
    x = x[torch.randperm(1000, generator=g)]
    kept, _ = maximin_selection(x, 500)
    assert knn_entropy(x[kept])["entropy"] > knn_entropy(x[:500])["entropy"] + 1.0


def test_entropy_curation_runs_records_what_it_kept_and_resumes_exactly(tmp_path):
    generations = resumed_equals_uninterrupted(tmp_path, "loop=replace", "loop.curation=entropy")
    kept = generations[1]["curation"]["sets"]["S_0"]
    assert kept["kept"] == 300 and kept["candidates"] == 600
    assert kept["entropy_kept"] > kept["entropy_uncurated"]


# ---------------------------------------------------------------- loop.curation=verifier


def test_a_verifier_trained_on_more_labels_is_more_accurate(tmp_path):
    from bench.engine.real_side import real_side

    real = real_side(tiny_cfg(tmp_path))
    few = train_verifier(real.evaluator, 10, seed=0)
    many = train_verifier(real.evaluator, 3000, seed=0)
    assert few.accuracy < 0.7 < 0.9 < many.accuracy, (few.accuracy, many.accuracy)
    again = train_verifier(real.evaluator, 10, seed=0)
    assert again.accuracy == few.accuracy, "seeded: a resumed run trains the same verifier"


def test_verifier_curation_records_its_verifier_and_resumes_exactly(tmp_path):
    generations = resumed_equals_uninterrupted(
        tmp_path, "loop=replace", "loop.curation=verifier", "loop.verifier_n_labelled=200"
    )
    verifier = generations[1]["curation"]["sets"]["S_0"]["verifier"]
    assert verifier["n_labelled"] == 200 and 0.1 < verifier["accuracy"] <= 1.0


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["loop=replace", "loop.curation=verifier", "loop.verifier_n_labelled=70000"],
            "loop.verifier_n_labelled=70000 exceeds the 60000 labelled real training images",
        ),
        (
            ["loop=replace", "loop.curation=verifier", "loop.verifier_n_labelled=0"],
            "loop.verifier_n_labelled=0 must be a positive integer",
        ),
        (
            ["loop=replace", "loop.curation=entropy", "loop.curation_keep=1.0"],
            "loop.curation=entropy with loop.curation_keep=1.0 draws no more candidates than it keeps",
        ),
        (["loop=replace", "loop.curation=diversity"], "loop.curation='diversity' is not known; allowed: null,"),
    ],
)
def test_bad_curation_settings_stop_before_training(tmp_path, overrides, message):
    refused_before_training(tmp_path, overrides, message)


def test_entropy_curation_needs_two_kept_images():
    with pytest.raises(BenchError, match=r"needs at least 2 kept images"):
        Replay(generations=2, synthetic_size=1, curation="entropy")


def test_a_verifier_needs_classes():
    loop = Replay(generations=2, synthetic_size=8, curation="verifier")
    with pytest.raises(BenchError, match=r"loop\.curation=verifier needs a labelled data set"):
        loop.check_curation(n_labelled_available=100, num_classes=0)
