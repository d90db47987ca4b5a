"""Composition counts of every loop kind, built from the YAML registry like a run builds them."""

import pytest
import torch
from hydra import compose, initialize_config_dir

from bench.__main__ import CONF_DIR
from bench.build import build
from bench.errors import BenchError
from bench.loops import LoopContext

N, M, POOL = 40, 30, 400


def make_loop(kind: str, *overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"loop={kind}", f"data.n_train={N}", f"loop.synthetic_size={M}", *overrides])
    return build(cfg.loop)


def make_context():
    # pixel value encodes provenance: real pool images are 0..POOL-1 (mod 256 in one pixel,
    # index in another), synthetic are 255
    pool = torch.zeros(POOL, 1, 2, 2, dtype=torch.uint8)
    pool[:, 0, 0, 0] = torch.arange(POOL) % 200
    pool[:, 0, 0, 1] = torch.arange(POOL) // 200
    initial_index = torch.arange(N)
    synthetic = lambda s: torch.full((M, 1, 2, 2), 255, dtype=torch.uint8).index_fill_(3, torch.tensor([1]), s)
    return LoopContext(
        seed=0, initial=pool[initial_index], real_pool=pool, initial_index=initial_index, synthetic=synthetic
    )


def is_synthetic(images):
    return images[:, 0, 0, 0] == 255


@pytest.mark.parametrize("kind", ["replace", "replay", "augment", "fresh", "accumulate", "real"])
def test_generation_zero_is_the_real_initial_set(kind):
    ts = make_loop(kind).training_set(0, make_context())
    assert (ts.n_real, ts.n_synthetic) == (N, 0)
    assert not is_synthetic(ts.images).any()


@pytest.mark.parametrize(
    "kind, overrides, t, expected",
    [
        ("replace", [], 3, (0, M)),
        ("replay", ["loop.real_fraction=0.5"], 2, (20, 20)),
        ("replay", ["loop.real_fraction=0.25"], 2, (10, 30)),
        ("replay", ["loop.real_fraction=1.0"], 2, (40, 0)),
        ("augment", [], 4, (N, M)),
        ("fresh", ["loop.real_size=25"], 3, (25, M)),
        ("accumulate", [], 3, (N, 3 * M)),
        ("real", [], 5, (N, 0)),
    ],
)
def test_counts(kind, overrides, t, expected):
    ts = make_loop(kind, *overrides).training_set(t, make_context())
    assert (ts.n_real, ts.n_synthetic) == expected
    assert len(ts.images) == sum(expected)
    assert int(is_synthetic(ts.images).sum()) == expected[1], "the counts must describe the images actually returned"


def test_replace_and_augment_use_the_previous_generation_only():
    ctx = make_context()
    for kind in ("replace", "augment"):
        ts = make_loop(kind).training_set(3, ctx)
        assert set(ts.images[is_synthetic(ts.images)][:, 0, 1, 1].tolist()) == {2}


def test_accumulate_keeps_every_earlier_generation_and_budget_subsamples():
    ctx = make_context()
    ts = make_loop("accumulate").training_set(3, ctx)
    assert set(ts.images[is_synthetic(ts.images)][:, 0, 1, 1].tolist()) == {0, 1, 2}
    ts = make_loop("accumulate", "loop.budget=50").training_set(3, ctx)
    assert len(ts.images) == 50 and ts.n_real + ts.n_synthetic == 50
    assert ts.n_real == int((~is_synthetic(ts.images)).sum())


def test_fresh_draws_are_unseen_and_disjoint_across_generations():
    ctx = make_context()
    loop = make_loop("fresh", "loop.real_size=25")
    ids = lambda imgs: set((imgs[:, 0, 0, 0].long() + 200 * imgs[:, 0, 0, 1].long()).tolist())
    draws = [ids(loop.training_set(t, ctx).images[:25]) for t in (1, 2, 3)]
    assert all(len(d) == 25 for d in draws)
    assert not (draws[0] & draws[1]) and not (draws[1] & draws[2])
    assert all(not (d & set(range(N))) for d in draws), "fresh data must not repeat D_0"


def test_composition_is_seeded():
    a = make_loop("replay").training_set(2, make_context()).images
    b = make_loop("replay").training_set(2, make_context()).images
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kind, override, message",
    [
        ("replay", "loop.real_fraction=1.5", "loop.real_fraction=1.5 is outside the allowed range [0, 1]"),
        ("replay", "loop.real_fraction=-0.1", "loop.real_fraction=-0.1 is outside the allowed range [0, 1]"),
        ("replace", "loop.generations=0", "loop.generations=0 must be a positive integer"),
        ("replace", "loop.synthetic_size=-5", "loop.synthetic_size=-5 must be a positive integer"),
        ("accumulate", "loop.budget=0", "loop.budget=0 must be a positive integer"),
        ("fresh", "loop.real_size=0", "loop.real_size=0 must be a positive integer"),
        ("replace", "loop.generations=many", "loop.generations=many must be a positive integer"),
        ("replace", "loop.generations=2.5", "loop.generations=2.5 must be a positive integer"),
        ("replay", "loop.real_fraction=half", "loop.real_fraction=half is outside the allowed range [0, 1]"),
    ],
)
def test_bad_loop_settings_name_the_value(kind, override, message):
    with pytest.raises(BenchError) as e:
        make_loop(kind, override)
    assert str(e.value) == message


def test_sizes_that_cannot_work_fail_before_training():
    with pytest.raises(BenchError, match=r"loop\.synthetic_size=10 is too small"):
        make_loop("replay", "loop.real_fraction=0.5", "loop.synthetic_size=10").check_sizes(n_initial=N, n_pool=POOL)
    with pytest.raises(BenchError, match="needs 2000 unseen real images"):
        make_loop("fresh", "loop.real_size=400", "loop.generations=6").check_sizes(n_initial=N, n_pool=POOL)
