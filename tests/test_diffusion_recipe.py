"""benchmarks/diffusion_recipe.py's table: a row's mean ± 95% t half-width, and writing into a doc's section."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "diffusion_recipe.py"
spec = importlib.util.spec_from_file_location("diffusion_recipe", SCRIPT)
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)


def point(fid: float, *, healthy: bool = True) -> dict:
    metrics = {"fid": fid, "recall": 0.5, "coverage": 0.4, "precision": 0.7, "classes_covered": 10}
    gen = {"metrics": metrics, "seconds": {"train": 10.0, "sample": 2.0, "eval": 1.0}, "healthy": healthy}
    return {"gen": gen, "config": {"trainer": {"max_steps": 700, "batch_size": 128}, "model": {}}}


def test_a_row_holds_the_mean_and_the_t_half_width():
    # FIDs 1, 2, 3: mean 2, s = 1, t_0.975(2) = 4.303, half-width 4.303 / sqrt(3) = 2.484
    row = recipe.row("x", [point(1.0), point(2.0), point(3.0, healthy=False)])
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["x", "700 x 128", "3"]
    assert cells[5] == "2.0 ± 2.5"
    assert cells[-1] == "no"  # one unhealthy seed makes the point unhealthy
    assert recipe.row("y", [point(7.25)]).split("|")[6].strip() == "7.2"  # one seed: no interval


def test_a_table_goes_into_its_section_and_nowhere_else(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- recipe:a -->\nold\n<!-- /recipe:a -->\nafter\n")
    assert recipe.into_section(doc, "a", "new\n") == "intro\n<!-- recipe:a -->\nnew\n<!-- /recipe:a -->\nafter\n"
    with pytest.raises(SystemExit, match="has no section <!-- recipe:b -->"):
        recipe.into_section(doc, "b", "new\n")


def test_a_point_folder_is_a_plain_name_and_the_study_s_folders_keep_theirs(tmp_path):
    folder = recipe.point_folder(tmp_path, ["model=ddpm", "model.channels=[32,64,64]"], 1)
    assert folder.name == "model-ddpm_model.channels-32-64-64-_seed1"
    # the names the study's runs were made under (docs/diffusion_recipe.md) are unchanged
    assert recipe.point_folder(tmp_path, ["model=ldm", "trainer.num_threads=1"], 0).name == (
        "model-ldm_trainer.num_threads-1_seed0"
    )


def test_a_point_runs_generation_0_alone_unless_it_asks_for_more_generations(tmp_path):
    one = recipe.point_command(["model=ldm"], 2, tmp_path)
    assert one[-4:] == ["model=ldm", "seed=2", "loop.generations=1", f"run_dir={tmp_path}"]
    three = recipe.point_command(["model=ldm", "loop.generations=3"], 0, tmp_path)
    assert [o for o in three if o.startswith("loop.generations=")] == ["loop.generations=3"], "Hydra refuses twice"


def test_no_grid_point_sets_a_key_twice():
    """Hydra refuses an override given twice: a point built from FIRST_LDM plus a changed key would fail to start."""
    for grid in recipe.GRIDS.values():
        for overrides in grid.values():
            keys = [o.split("=", 1)[0] for o in overrides]
            assert len(keys) == len(set(keys)), overrides
