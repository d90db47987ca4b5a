"""Real data sets (loaded by `_target_` from conf/data/*.yaml), each one Python file and one YAML file.

A data config holds the loader's arguments plus keys the loader does not take: `n_train` (|D_0|, read by
the loop), `extractor` (the data set's own feature space, `bench.features`) and `scoring` (metric sample
sizes that fit its test set, read by conf/metrics/default.yaml), `health` (the generation-0 health gate's FID
limit for this data set, read by conf/config.yaml's `health`), and the contamination of the train pool
(conf/data_common.yaml, applied by `bench.engine.contamination` after loading).
"""

from bench.data.images import ImageDataset, Measure

NOT_LOADER_ARGS = (
    "n_train",
    "extractor",
    "scoring",
    "health",
    "contamination",
    "contamination_source",
    "contamination_seed",
)

__all__ = ["NOT_LOADER_ARGS", "ImageDataset", "Measure", "build_data"]


def build_data(node) -> ImageDataset:
    """The data set of a config node `data`."""
    from bench.build import build

    data = build(node, exclude=NOT_LOADER_ARGS)
    assert isinstance(data, ImageDataset), f"{node.get('_target_')} returned {type(data).__name__}, not ImageDataset"
    return data
