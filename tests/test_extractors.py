"""Feature spaces per data set: built from config, refused in one line when they do not fit, the standard ones
(inception, dinov2) loaded from local files only, and the digits classifier shipped like the MNIST one."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import torch
from omegaconf import OmegaConf

from bench.config import compose
from bench.data import build_data
from bench.data.images import ImageDataset
from bench.engine.evaluation import Evaluator
from bench.errors import BenchError
from bench.features import build_extractor, extractors_for, load_extractor
from bench.features.extractor import ASSETS

METRICS = {"extractor": None, "extractor_weights": None, "extractor_hub_dir": None}


def fake(name="other", shape=(1, 28, 28), n=20, num_classes=10) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    y = torch.arange(n) % num_classes if num_classes else torch.full((n,), -1)
    return ImageDataset(name, "test", x, y, x.clone(), y.clone(), num_classes)


@pytest.mark.parametrize("name", ["mnist", "tails", "stacked_mnist", "digits"])
def test_every_offline_data_set_names_an_extractor_that_fits_it(name):
    cfg = compose([f"data={name}"])
    data = build_data(cfg.data)
    features, classes = extractors_for(cfg.metrics, cfg.data, data)
    assert features is classes and features.num_classes == data.num_classes
    assert features.input_shape == data.image_shape
    assert features.trained_on in (data.checksum, data.base_checksum)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fake(shape=(1, 8, 8)), r"takes images \(1, 28, 28\), but data=other has \(1, 8, 8\)"),
        (fake(), r"was trained on data 7ea4b60ae284…, not on data=other \(checksum [0-9a-f]{12}…\)"),
    ],
)
def test_an_extractor_that_does_not_fit_the_data_is_refused_in_one_line(data, message):
    with pytest.raises(BenchError, match=message) as info:
        extractors_for(OmegaConf.create({**METRICS, "extractor": "mnist_classifier"}), None, data)
    assert "\n" not in str(info.value) and "metrics.extractor=inception|dinov2" in str(info.value)


def test_the_mnist_classifier_on_digits_is_refused_before_scoring(tmp_path):
    cfg = compose(["data=digits", "metrics.extractor=mnist_classifier"])
    with pytest.raises(
        BenchError, match=r"mnist_classifier takes images \(1, 28, 28\), but data=digits has \(1, 8, 8\)"
    ):
        Evaluator(build_data(cfg.data), cfg.metrics, cache_dir=tmp_path, data_cfg=cfg.data)


def test_class_count_mismatch_is_refused():
    digits = load_extractor("digits_classifier")
    data = fake(shape=(1, 8, 8), num_classes=3)
    object.__setattr__(data, "base_checksum", digits.trained_on)
    with pytest.raises(BenchError, match=r"digits_classifier has 10 classes, but data=other has 3"):
        digits.check_fits(data)


def test_a_data_set_without_an_extractor_of_its_own_says_what_to_do():
    data = fake(num_classes=0)
    with pytest.raises(BenchError, match=r"data=other has no reference extractor of its own") as info:
        extractors_for(OmegaConf.create(METRICS), OmegaConf.create({"extractor": None}), data)
    assert "metrics.extractor=inception|dinov2" in str(info.value)


def test_digits_classifier_is_shipped_like_the_mnist_one():
    meta = json.loads((ASSETS / "digits_classifier.json").read_text())
    assert hashlib.sha256((ASSETS / "digits_classifier.pt").read_bytes()).hexdigest() == meta["sha256"]
    assert meta["train_command"].startswith("python scripts/train_reference.py --data digits --seed 0")
    data = build_data(compose(["data=digits"]).data)
    assert meta["trained_on"] == data.checksum and meta["n_test"] == len(data.test_images) == 500
    ex = load_extractor("digits_classifier")
    labels = ex.extract(data.test_images)[1]
    accuracy = (labels == data.test_labels).double().mean().item()
    assert accuracy == pytest.approx(meta["test_accuracy"], abs=1e-4) and accuracy >= 0.95


def test_build_extractor_from_a_config_node():
    ex = build_extractor({"_target_": "bench.features.luminance.load_luminance", "base": "mnist_classifier"})
    assert ex.input_shape == (3, 28, 28) and ex.name == "mnist_classifier@brightness"
    with pytest.raises(BenchError, match=r"extractor _target_ 'no.such.loader' cannot be imported"):
        build_extractor({"_target_": "no.such.loader"})


# standard feature spaces: nothing is downloaded


def test_inception_without_weights_says_how_to_provide_them(tmp_path):
    cfg = OmegaConf.create({**METRICS, "extractor": "inception", "extractor_weights": str(tmp_path / "none.pth")})
    with pytest.raises(BenchError) as info:
        extractors_for(cfg, None, fake())
    message = str(info.value)
    assert "\n" not in message and "weights-inception-2015-12-05-6726825d.pth" in message
    assert str(tmp_path / "none.pth") in message and "metrics.extractor_weights=PATH" in message


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """A state_dict of torch-fidelity's Inception-v3 with random weights (the real ones cannot be downloaded here)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    load = torch.nn.Module.load_state_dict
    torch.nn.Module.load_state_dict = lambda self, *a, **k: None  # build the architecture without weights
    try:
        torch.manual_seed(0)
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=empty)
    finally:
        torch.nn.Module.load_state_dict = load
    path = tmp_path_factory.mktemp("inception") / "weights.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.mark.slow
def test_inception_loads_local_weights_and_scores_any_image_size(random_inception, mnist):
    cfg = OmegaConf.create({**METRICS, "extractor": "inception", "extractor_weights": str(random_inception)})
    features, classes = extractors_for(cfg, compose(["data=mnist"]).data, mnist)
    assert features.name == "inception" and features.feature_dim == 2048 and features.num_classes is None
    assert features.sha256 == hashlib.sha256(random_inception.read_bytes()).hexdigest()
    assert classes is not None and classes.name == "mnist_classifier"  # mode metrics from the data set's own
    f, labels = features.extract(mnist.test_images[:2])
    assert f.shape == (2, 2048) and labels is None and torch.isfinite(f).all()


def test_dinov2_without_code_or_weights_says_how_to_provide_them(tmp_path):
    cfg = OmegaConf.create({**METRICS, "extractor": "dinov2", "extractor_hub_dir": str(tmp_path)})
    with pytest.raises(BenchError, match=r"needs the DINOv2 model code .* set metrics.extractor_hub_dir=DIR"):
        extractors_for(cfg, None, fake())
    (tmp_path / "hubconf.py").write_text("")
    cfg.extractor_weights = str(tmp_path / "none.pth")
    with pytest.raises(BenchError, match=r"needs the weights none.pth, not found at .* metrics.extractor_weights=PATH"):
        extractors_for(cfg, None, fake())


TINY_HUBCONF = """
import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 14, stride=14)

    def forward(self, x):
        return self.conv(x).mean((2, 3))


def dinov2_vitb14(pretrained=True):
    return Tiny()
"""


def test_dinov2_loads_local_code_and_weights(tmp_path, mnist):
    """The loading path with a stand-in network from a local hubconf.py (the real one is not on this machine)."""
    (tmp_path / "hubconf.py").write_text(TINY_HUBCONF)
    torch.manual_seed(0)
    state = torch.hub.load(str(tmp_path), "dinov2_vitb14", source="local").state_dict()
    torch.save(state, tmp_path / "w.pth")
    cfg = OmegaConf.create(
        {
            **METRICS,
            "extractor": "dinov2",
            "extractor_hub_dir": str(tmp_path),
            "extractor_weights": str(tmp_path / "w.pth"),
        }
    )
    features, classes = extractors_for(cfg, compose(["data=digits"]).data, build_data(compose(["data=digits"]).data))
    assert features.name == "dinov2" and features.feature_dim == 6 and classes.name == "digits_classifier"
    f, _ = features.extract(mnist.test_images[:3])
    assert f.shape == (3, 6)


def test_a_folder_without_classes_is_scored_on_features_and_its_mode_metrics_are_skipped(tmp_path):
    import numpy as np
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(images / f"{i}.png")
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "hubconf.py").write_text(TINY_HUBCONF)
    torch.manual_seed(0)
    torch.save(torch.hub.load(str(hub), "dinov2_vitb14", source="local").state_dict(), hub / "w.pth")
    cfg = compose(
        [
            "data=folder",
            f"data.root={images}",
            "data.channels=1",
            "data.test_fraction=0.5",
            "metrics.extractor=dinov2",
            f"metrics.extractor_hub_dir={hub}",
            f"metrics.extractor_weights={hub / 'w.pth'}",
            "metrics.n_samples=12",
            "metrics.n_reference=15",
            "metrics.kid_subset_size=10",
            "metrics.kid_subsets=2",
        ]
    )
    data = build_data(cfg.data)
    assert data.num_classes == 0
    evaluator = Evaluator(data, cfg.metrics, cache_dir=tmp_path / "cache", data_cfg=cfg.data)
    assert evaluator.classifier is None and evaluator.real_class_shares is None
    assert set(evaluator.skipped) == {"classes_covered", "kl_gen_real", "tv", "min_class_share", "class_shares"}
    assert "has no classes" in evaluator.skipped["classes_covered"]
    out = evaluator.score_images(data.train_images[:12], seed=0)
    assert "fid" in out and "recall" in out and "classes_covered" not in out
    assert evaluator.extractor_info["name"] == "dinov2" and evaluator.extractor_info["classes_from"] is None
