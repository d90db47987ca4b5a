"""loop.curation: later generations train on the best-scoring share of each synthetic set."""

import math

import numpy as np
import pytest
import torch

from bench.config import compose
from bench.engine.run import run
from bench.errors import BenchError
from bench.features import load_extractor
from conftest import tiny_overrides


def curated_run(tmp_path, method: str, loop: str = "replace", keep: float = 0.4) -> dict:
    cfg = compose(
        [
            *tiny_overrides(n_train=300, generations=3),
            f"loop={loop}",
            f"loop.curation={method}",
            f"loop.curation_keep={keep}",
            f"cache_dir={tmp_path / 'cache'}",
            f"run_dir={tmp_path / method}",
        ]
    )
    return run(cfg)


def top_scores(scores: torch.Tensor, m: int) -> tuple[float, float]:
    kept = torch.sort(-scores, stable=True).indices[:m]
    return float(scores[kept].min()), float(scores[kept].mean())


def test_confidence_keeps_the_samples_the_classifier_is_surest_of(tmp_path):
    results = curated_run(tmp_path, "confidence")
    m, candidates = 300, math.ceil(300 / 0.4)
    g1 = results["generations"][1]
    assert g1["counts"] == {"real": 0, "synthetic": m, "total": m, "sampled": candidates}
    s = g1["curation"]["sets"]["S_0"]
    assert g1["curation"]["method"] == "confidence" and list(g1["curation"]["sets"]) == ["S_0"]
    assert (s["candidates"], s["kept"], s["kept_share"]) == (candidates, m, pytest.approx(m / candidates))
    # recompute the scores of S_0 from the run folder: the threshold is the m-th best, the kept mean the top m's
    samples = torch.from_numpy(np.load(tmp_path / "confidence" / "gen_000" / "samples.npy"))
    assert len(samples) == candidates
    logits = load_extractor().extract_all(samples).logits
    scores = torch.softmax(logits.double(), 1).max(1).values
    threshold, mean_kept = top_scores(scores, m)
    assert s["threshold"] == pytest.approx(threshold, abs=1e-12)
    assert s["score_mean_kept"] == pytest.approx(mean_kept, abs=1e-12) and mean_kept >= s["score_mean_candidates"]
    assert sum(s["class_shares_kept"]) == pytest.approx(1.0)
    assert results["generations"][0]["curation"] is None, "generation 0 trains on D_0 alone"


def test_nearest_real_keeps_the_samples_closest_to_d0(tmp_path):
    results = curated_run(tmp_path, "nearest_real", keep=0.5)
    s = results["generations"][2]["curation"]["sets"]["S_1"]
    assert s["score_mean_kept"] >= s["score_mean_candidates"] and s["threshold"] <= 0
    assert s["candidates"] == 600 and s["kept"] == 300


def test_accumulate_curates_every_synthetic_set_it_trains_on(tmp_path):
    results = curated_run(tmp_path, "detector", loop="accumulate", keep=0.5)
    g2 = results["generations"][2]
    assert list(g2["curation"]["sets"]) == ["S_0", "S_1"]
    assert g2["counts"]["synthetic"] == 600 and g2["counts"]["real"] == 300
    assert results["status"] == "finished"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loop.curation=sharpness", r"loop.curation='sharpness' is not known; allowed: null, confidence, nearest_real"),
        ("loop.curation_keep=0", r"loop.curation_keep=0 is outside the allowed range \(0, 1\]"),
        ("loop.curation_keep=1.5", r"loop.curation_keep=1.5 is outside the allowed range \(0, 1\]"),
    ],
)
def test_bad_curation_settings_are_one_line_errors(tmp_path, override, message):
    with pytest.raises(BenchError, match=message):
        run(compose([*tiny_overrides(), override, f"run_dir={tmp_path}"]))
    assert not (tmp_path / "results.json").exists()


def test_curation_ranks_the_candidates_even_when_more_images_are_drawn_for_scoring(tmp_path):
    # |D_0| = 100 with keep 1.0: 100 candidates, although 200 images are drawn (metrics.n_samples) to be scored
    cfg = compose(
        [
            *tiny_overrides(n_train=100, generations=2),
            "loop.curation=nearest_real",
            "loop.curation_keep=1.0",
            f"run_dir={tmp_path / 'run'}",
        ]
    )
    s = run(cfg)["generations"][1]["curation"]["sets"]["S_0"]
    assert (s["candidates"], s["kept"], s["kept_share"]) == (100, 100, 1.0)
