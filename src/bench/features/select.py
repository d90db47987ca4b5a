"""Which feature space scores a run, built from config.

`data.extractor` (a node with `_target_`) is the data set's own reference extractor. `metrics.extractor`
chooses: null (the data set's own), a standard feature space by name (`inception`, `dinov2`; their files:
`metrics.extractor_weights`, `metrics.extractor_hub_dir`), the name of a trained reference classifier, or a
node with `_target_`. Class labels (for the mode metrics) come from the chosen extractor when it has
classes, else from the data set's own, else there are none and the mode metrics are skipped.
"""

from __future__ import annotations

from bench.build import build
from bench.config import STANDARD_EXTRACTORS
from bench.errors import BenchError
from bench.features.extractor import FeatureExtractor, load_extractor, shipped

STANDARD = STANDARD_EXTRACTORS


def build_extractor(node) -> FeatureExtractor:
    """An extractor from a config node: `_target_` names the loader, the other keys (`name` too) its arguments."""
    return build(node, keep_name=True, what="extractor")


def standard(name: str, metrics_cfg) -> FeatureExtractor:
    kwargs = {"weights_path": metrics_cfg.get("extractor_weights")}
    if name == "dinov2":
        kwargs["hub_dir"] = metrics_cfg.get("extractor_hub_dir")
    return build_extractor({"_target_": STANDARD[name], **kwargs})


def extractors_for(metrics_cfg, data_cfg, data) -> tuple[FeatureExtractor, FeatureExtractor | None]:
    """(the extractor whose features are scored, the one whose classes count modes, or None), both fitting `data`."""
    own_cfg = data_cfg.get("extractor") if data_cfg is not None else None
    choice = metrics_cfg.get("extractor")
    if choice is None and own_cfg is None and data_cfg is None and f"{data.name}_classifier" in shipped():
        # a caller without the data config (a script, a test): the data set's shipped classifier
        own_cfg = {"_target_": "bench.features.load_extractor", "name": f"{data.name}_classifier"}
    if choice is None:
        if own_cfg is None:
            raise BenchError(
                f"data={data.name} has no reference extractor of its own (data.extractor is null); choose "
                f"metrics.extractor=inception|dinov2, or train one with scripts/train_reference.py --data {data.name}"
            )
        features = build_extractor(own_cfg)
    elif isinstance(choice, str) and choice in STANDARD:
        features = standard(choice, metrics_cfg)
    elif isinstance(choice, str):
        features = load_extractor(choice)
    else:
        features = build_extractor(choice)
    features.check_fits(data)
    if features.num_classes or not data.num_classes:
        return features, features if features.num_classes else None
    if own_cfg is None:
        return features, None
    classes = build_extractor(own_cfg)
    classes.check_fits(data)
    return features, classes if classes.num_classes else None
