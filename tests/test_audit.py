"""python -m bench.audit: the detector, the corrected mixture proportion and its interval, and the command."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.analysis.audit import train_detector
from bench.analysis.audit.proportion import estimate_proportion, rogan_gladen
from bench.cli.audit import main as audit_main
from bench.errors import BenchError


def flags(k: int, n: int) -> torch.Tensor:
    out = torch.zeros(n, dtype=torch.bool)
    out[:k] = True
    return out


def test_rogan_gladen_undoes_the_detectors_error_rates():
    # a pool of share 0.3 flagged by a detector with alpha = 0.1, beta = 0.8: q = 0.3*0.8 + 0.7*0.1 = 0.31
    assert rogan_gladen(0.31, 0.1, 0.8) == pytest.approx(0.3)
    assert rogan_gladen(0.05, 0.1, 0.8) == 0.0, "below the false-positive rate: clipped to 0"
    assert rogan_gladen(0.95, 0.1, 0.8) == 1.0
    with pytest.raises(BenchError, match="no better than chance"):
        rogan_gladen(0.5, 0.4, 0.4)


def test_the_estimate_from_counts_and_an_interval_that_contains_it():
    e = estimate_proportion(flags(310, 1000), flags(100, 1000), flags(800, 1000))
    assert e.estimate == pytest.approx(0.3)
    assert e.low < 0.3 < e.high and e.high - e.low < 0.15
    assert (e.flag_rate, e.false_positive_rate, e.true_positive_rate) == (0.31, 0.1, 0.8)


def test_the_interval_covers_the_true_share_about_95_percent_of_the_time():
    """Binomial flags of a known pool and known calibration sets, 300 times: coverage within Monte Carlo error."""
    g = torch.Generator().manual_seed(0)
    pi, alpha, beta, n = 0.3, 0.05, 0.9, 1000
    covered = 0
    trials = 300
    for i in range(trials):
        pool = torch.rand(n, generator=g) < pi * beta + (1 - pi) * alpha
        real = torch.rand(n, generator=g) < alpha
        synth = torch.rand(n, generator=g) < beta
        e = estimate_proportion(pool, real, synth, draws=4000, seed=i)
        covered += e.low <= pi <= e.high
    # 95% of 300 is 285, binomial sd 3.8: 4 sd below is 270
    assert covered >= 270, f"covered {covered} of {trials}"
    assert covered <= 299, "an interval that always covers is too wide to be a 95% interval"


def test_a_perfect_calibration_still_has_an_interval():
    e = estimate_proportion(flags(0, 2000), flags(0, 2000), flags(2000, 2000))
    assert e.estimate == 0.0 and e.low == 0.0 and 0 < e.high < 0.01


def test_the_detector_sees_a_change_of_spread():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 8, generator=g, dtype=torch.float64)
    synthetic = 0.5 * torch.randn(1000, 8, generator=g, dtype=torch.float64)  # same mean, half the spread
    d = train_detector(real[:500], synthetic[:500])
    accuracy = ((~d.predict(real[500:])).sum() + d.predict(synthetic[500:]).sum()) / 1000
    assert accuracy > 0.9, "a linear detector could not separate these; the squared features can"


def blurred(images: torch.Tensor) -> torch.Tensor:
    """A stand-in generator: 2x2 average-pooled digits (blurry, like a small VAE's)."""
    x = F.interpolate(F.avg_pool2d(images.float(), 2), scale_factor=2, mode="nearest")
    return x.round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize("share", [0.0, 0.33])
def test_the_command_recovers_a_known_share(tmp_path, mnist, share):
    real = mnist.test_images[:1000]
    k = round(share * 1000)
    pool = torch.cat([real[k:], blurred(mnist.test_images[1000 : 1000 + k])])
    np.save(tmp_path / "pool.npy", pool.numpy(), allow_pickle=False)
    np.save(tmp_path / "synthetic.npy", blurred(mnist.train_images[-2000:]).numpy(), allow_pickle=False)
    out = tmp_path / "audit.json"
    args = ["--pool", str(tmp_path / "pool.npy"), "--synthetic", str(tmp_path / "synthetic.npy"), "--out", str(out)]
    assert audit_main([*args, "--n-train", "800", "--n-calibration", "800"]) == 0
    result = json.loads(out.read_text())
    s = result["synthetic_share"]
    assert s["low"] <= share <= s["high"], s
    assert abs(s["estimate"] - share) < 0.05
    assert result["pool"]["n"] == 1000 and result["known_synthetic"]["source"] == "--synthetic"


def test_a_pool_of_the_wrong_shape_is_a_one_line_error(tmp_path, capsys):
    np.save(tmp_path / "pool.npy", np.zeros((5, 3, 32, 32), dtype=np.uint8), allow_pickle=False)
    assert audit_main(["--pool", str(tmp_path / "pool.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --pool") and "(5, 3, 32, 32)" in err and "(N, 28, 28)" in err
    assert len(err.splitlines()) == 1
    assert not list(tmp_path.glob("*.audit.json"))


def test_by_default_the_detector_learns_the_earlier_generator_of_data_contamination(tmp_path, mnist):
    np.save(tmp_path / "pool.npy", mnist.test_images[:500].numpy(), allow_pickle=False)
    out = tmp_path / "audit.json"
    small = ["--n-train", "300", "--n-calibration", "300", "--out", str(out)]
    tiny = ["data.n_train=300", "trainer.max_epochs=1", f"cache_dir={tmp_path / 'cache'}"]
    assert audit_main(["--pool", str(tmp_path / "pool.npy"), *small, *tiny]) == 0
    result = json.loads(out.read_text())
    assert result["known_synthetic"]["source"] == "generation 0 of model=vae, contamination_seed=0"
    assert list((tmp_path / "cache" / "contamination").glob("vae-gen0-*.npy"))
    s = result["synthetic_share"]
    assert s["low"] <= s["estimate"] <= s["high"] and s["low"] == 0.0, "an all-real pool: the interval reaches 0"


def test_the_detector_never_learns_from_images_of_the_pool(tmp_path, mnist):
    """A pool of MNIST *train* images: the known real images must come from outside it, or it reads as real by
    construction. The estimate stays at 0 and the JSON says how the known sets were drawn."""
    np.save(tmp_path / "pool.npy", mnist.train_images[:1000].numpy(), allow_pickle=False)
    np.save(tmp_path / "synthetic.npy", blurred(mnist.train_images[-2000:]).numpy(), allow_pickle=False)
    out = tmp_path / "audit.json"
    args = ["--pool", str(tmp_path / "pool.npy"), "--synthetic", str(tmp_path / "synthetic.npy"), "--out", str(out)]
    assert audit_main([*args, "--n-train", "800", "--n-calibration", "800"]) == 0
    s = json.loads(out.read_text())["synthetic_share"]
    assert s["low"] == 0.0 and s["estimate"] < 0.05


def test_a_synthetic_set_that_is_the_pool_itself_is_refused(tmp_path, mnist, capsys):
    np.save(tmp_path / "pool.npy", blurred(mnist.test_images[:1000]).numpy(), allow_pickle=False)
    args = ["--pool", str(tmp_path / "pool.npy"), "--synthetic", str(tmp_path / "pool.npy")]
    assert audit_main([*args, "--n-train", "300", "--n-calibration", "300", "--out", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --synthetic images: 0 are not in the pool") and len(err.splitlines()) == 1


def test_a_pool_outside_the_calibration_range_is_flagged():
    from bench.analysis.audit import _range_warning

    inside = estimate_proportion(flags(400, 1000), flags(100, 1000), flags(800, 1000))
    outside = estimate_proportion(flags(950, 1000), flags(100, 1000), flags(800, 1000))
    assert _range_warning(inside) is None
    assert "flag rate 0.950 lies outside the detector's calibration range [0.100, 0.800]" in _range_warning(outside)
