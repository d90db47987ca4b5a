"""data.contamination: a share of the real train pool replaced by a fixed earlier generator's images."""

import shutil

import numpy as np
import pytest
import torch

from bench.config import compose
from bench.data import build_data
from bench.engine.contamination import PoolContamination, contaminate
from bench.engine.evaluation import Evaluator
from bench.engine.run import run
from bench.errors import BenchError
from conftest import tiny_overrides


def evaluator_for(cfg) -> Evaluator:
    return Evaluator(build_data(cfg.data), cfg.metrics, cache_dir=cfg.cache_dir, data_cfg=cfg.data)


@pytest.fixture(scope="module")
def fake_generator_file(tmp_path_factory, mnist):
    """Known 'synthetic' images: inverted MNIST digits (no real image looks like them)."""
    path = tmp_path_factory.mktemp("gen") / "samples.npy"
    np.save(path, (255 - mnist.train_images[:20000]).numpy(), allow_pickle=False)
    return path


def test_the_share_of_the_pool_is_replaced_at_fixed_positions_and_the_test_set_is_untouched(fake_generator_file):
    cfg = compose(["data.contamination=0.05", f"data.contamination_source={fake_generator_file}"])
    evaluator = evaluator_for(cfg)
    data = evaluator.dataset
    pool, mask, info = contaminate(PoolContamination.of(cfg), evaluator)
    assert info is not None
    assert int(mask.sum()) == info["n_replaced"] == round(0.05 * len(data.train_images))
    inverted = pool[mask].float().mean()
    assert inverted > 200, "the replaced images are the source's (inverted, mostly white)"
    assert torch.equal(pool[~mask], data.train_images[~mask]), "every other pool image is untouched"
    assert data.test_images.float().mean() < 50, "the data set (and its test set) stays clean"
    assert len(info["sha256"]) == 64
    _, again_mask, again = contaminate(PoolContamination.of(cfg), evaluator)
    assert torch.equal(again_mask, mask) and again == info, "positions and images are fixed, not drawn per call"
    other = compose(["data.contamination=0.05", f"data.contamination_source={fake_generator_file}", "seed=3"])
    assert torch.equal(contaminate(PoolContamination.of(other), evaluator)[1], mask), (
        "the run's seed does not move the contamination"
    )


def test_a_run_records_its_contamination_and_trains_on_the_contaminated_pool(tmp_path, fake_generator_file):
    cfg = compose(
        [
            *tiny_overrides(n_train=1000, generations=2),
            "loop=real",
            "data.contamination=0.33",
            f"data.contamination_source={fake_generator_file}",
            f"run_dir={tmp_path / 'run'}",
        ]
    )
    results = run(cfg)
    c = results["dataset"]["contamination"]
    assert c["share"] == 0.33 and c["n_replaced"] == 19800 and c["source"] == str(fake_generator_file)
    # D_0 is a uniform draw from the pool: its contaminated count is hypergeometric around 330 (sd about 15)
    assert 330 - 75 < c["n_in_initial"] < 330 + 75
    assert len(c["sha256"]) == 64


def test_the_default_earlier_generator_is_generation_0_of_the_run_model_trained_once_and_cached(tmp_path):
    overrides = [
        *tiny_overrides(n_train=300, generations=1),
        "data.contamination=0.01",
        f"cache_dir={tmp_path / 'cache'}",
    ]
    cache = tmp_path / "cache" / "contamination"
    first = run(compose([*overrides, f"run_dir={tmp_path / 'a'}"]))["dataset"]["contamination"]
    (model,) = cache.glob("vae-gen0-*.pt")
    assert first["cache_file"] == str(next(cache.glob("vae-gen0-*-pool-600.npy")))
    assert first["source"] == "generation 0 of model=vae, contamination_seed=0"
    trained_at = model.stat().st_mtime_ns
    # another seed, another share, and curation by the audit detector: the same generator, never retrained
    second = run(
        compose(
            [
                *overrides[:-2],
                "data.contamination=0.02",
                "loop.generations=2",
                "loop.curation=detector",
                f"cache_dir={tmp_path / 'cache'}",
                "seed=1",
                f"run_dir={tmp_path / 'b'}",
            ]
        )
    )["dataset"]["contamination"]
    assert [p.name for p in cache.glob("*.pt")] == [model.name] and model.stat().st_mtime_ns == trained_at
    assert sorted(p.name.split("-")[-2] for p in cache.glob("*.npy")) == ["audit", "pool", "pool"]
    assert second["sha256"] != first["sha256"], "1,200 images, not 600: another draw of the same generator"


def test_a_resumed_run_refuses_a_pool_contaminated_by_other_images(tmp_path, fake_generator_file, mnist):
    source = tmp_path / "source.npy"
    np.save(source, np.load(fake_generator_file)[:700], allow_pickle=False)
    overrides = [
        *tiny_overrides(n_train=300, generations=2),
        "data.contamination=0.01",
        f"data.contamination_source={source}",
        f"run_dir={tmp_path / 'run'}",
    ]
    run(compose(overrides))
    shutil.rmtree(tmp_path / "run" / "gen_001")  # as if interrupted during generation 1
    np.save(source, (255 - mnist.test_images[:700]).numpy(), allow_pickle=False)  # the file changed meanwhile
    with pytest.raises(
        BenchError, match=r"was trained on a pool contaminated by images with sha256 \w{12}, now \w{12}"
    ):
        run(compose(overrides))
    assert not (tmp_path / "run" / "gen_001").exists()


def test_a_bad_contamination_seed_is_a_one_line_error(tmp_path):
    cfg = compose([*tiny_overrides(), "data.contamination=0.1", "data.contamination_seed=abc", f"run_dir={tmp_path}"])
    with pytest.raises(BenchError, match=r"data\.contamination_seed=abc must be a non-negative integer"):
        run(cfg)


@pytest.mark.parametrize("value", ["1.0", "-0.1", "1.5", "abc"])
def test_a_contamination_outside_0_1_is_a_one_line_error(value, tmp_path):
    with pytest.raises(BenchError, match=r"data.contamination=.* is outside the allowed range \[0, 1\)"):
        run(compose([*tiny_overrides(), f"data.contamination={value}", f"run_dir={tmp_path}"]))
    assert not (tmp_path / "results.json").exists(), "nothing is written before the check"


def test_a_run_folder_generation_is_a_source(tmp_path, mnist):
    gen = tmp_path / "gen_000"
    gen.mkdir()
    np.save(gen / "samples.npy", (255 - mnist.train_images[:700]).numpy(), allow_pickle=False)
    (gen / "samples.png").write_bytes(b"a grid picture, not the samples")
    cfg = compose(["data.contamination=0.01", f"data.contamination_source={gen}"])
    pool, mask, info = contaminate(PoolContamination.of(cfg), evaluator_for(cfg))
    assert info is not None and info["n_replaced"] == 600 and pool[mask].float().mean() > 200


def test_a_source_of_the_wrong_shape_or_size_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((10, 3, 32, 32), dtype=np.uint8), allow_pickle=False)
    cfg = compose(["data.contamination=0.2", f"data.contamination_source={bad}"])
    with pytest.raises(BenchError, match=r"data.contamination_source .*bad.npy has shape \(10, 3, 32, 32\)"):
        contaminate(PoolContamination.of(cfg), evaluator_for(cfg))
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((10, 28, 28), dtype=np.uint8), allow_pickle=False)
    cfg = compose(["data.contamination=0.2", f"data.contamination_source={small}"])
    with pytest.raises(BenchError, match=r"holds 10 images; 12000 are needed"):
        contaminate(PoolContamination.of(cfg), evaluator_for(cfg))
