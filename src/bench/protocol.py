"""Protocols: fixed settings a result is reported against (`protocol=mnist-v1`, conf/protocol/<name>.yaml).

A protocol's file sets the data set, |D_0|, the number of generations, the synthetic size, the scoring sizes, the
feature space, and names the seeds and the sha256 of the data and of the feature extractor. This module holds the
rule: which keys a protocol fixes (FIXED, less FREE), and the check that a config keeps them. The reference values
are those of `protocol=<name>` composed alone from the package's own conf/ (never from the run or the file being
checked, so an edited results.json or a changed protocol node cannot vouch for itself).

Everything else is the entry's own: the model and its training recipe (`model.*`, `trainer.*`), the mitigation
(the loop kind and its settings, curation, contamination as a stress case) and the sampling settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from bench.config import CONF_DIR, compose, flatten
from bench.errors import BenchError

# keys (and key prefixes) whose values a protocol fixes
FIXED = ("protocol", "data", "loop.generations", "loop.synthetic_size", "metrics", "health")
# inside FIXED, what does not change a result: where the files are read from (their sha256 is checked instead), the
# bootstrap (intervals only), and the contamination stress case, which an entry may apply as its mitigation
FREE = (
    "data.source",
    "data.root",
    "data.contamination",
    "data.contamination_source",
    "data.contamination_seed",
    "metrics.extractor_weights",
    "metrics.extractor_hub_dir",
    "metrics.bootstrap",
)


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def fixed(key: str) -> bool:
    return _under(key, FIXED) and not _under(key, FREE)


def names() -> list[str]:
    """The protocols the package ships."""
    folder = CONF_DIR / "protocol"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


@cache
def reference(name: str) -> dict[str, Any]:
    """{fixed key: value} of protocol `name`, composed alone (the values every run under it must have)."""
    if name not in names():
        raise BenchError(f"protocol {name!r} is not known; allowed: {', '.join(names())}")
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(compose([f"protocol={name}", "run_dir=."]), resolve=True)
    assert isinstance(config, dict)
    return {k: v for k, v in flatten(config).items() if fixed(k)}


def violations(config: Mapping[Any, Any]) -> list[str]:
    """What a resolved config (a run's, or a results.json's) changed of the protocol it names: one line each, the
    key, its value here and the protocol's. Empty for a config under no protocol."""
    node = config.get("protocol")
    if not node:
        return []
    name = node.get("name") if isinstance(node, Mapping) else None
    if not isinstance(name, str) or name not in names():
        return [f"protocol {name!r} is not known; allowed: {', '.join(names())}"]
    ref = reference(name)
    have = {k: v for k, v in flatten(config).items() if fixed(k)}
    out = []
    for key in sorted(ref.keys() | have.keys(), key=lambda k: (k != "data.name", k)):  # another data set first
        if key not in have:
            out.append(f"{key} is missing (protocol {name}: {ref[key]!r})")
        elif key not in ref:
            out.append(f"{key}={have[key]!r} is not a setting of protocol {name}")
        elif have[key] != ref[key]:
            out.append(f"{key}={have[key]!r} (protocol {name} fixes {ref[key]!r})")
    seed = config.get("seed")
    if seed not in ref["protocol.seeds"]:
        out.append(f"seed={seed!r} (protocol {name} runs seeds {ref['protocol.seeds']})")
    return out


def check(config: Any) -> None:
    """Refuse, in one line, a run that changes a key its protocol fixes (before anything is written)."""
    bad = violations(config)
    if bad:
        name = config["protocol"].get("name") if isinstance(config.get("protocol"), Mapping) else None
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise BenchError(
            f"{bad[0]}{more}: a run under protocol={name} may change the model, the loop kind and its settings, "
            "and sampling only; drop the override (or the preset that sets it), or run without protocol="
        )


def asset_mismatches(
    name: str, dataset_checksum: Any, extractor: Any, extractor_sha256: Any
) -> list[tuple[str, Any, Any]]:
    """(what, this run's, the protocol's) where the data and feature extractor a run used are not protocol `name`'s,
    against the package's own copy of the protocol."""
    ref = reference(name)
    return [
        (what, have, ref[key])
        for what, have, key in (
            ("data checksum", dataset_checksum, "protocol.data_checksum"),
            ("feature extractor", extractor, "protocol.extractor"),
            ("feature extractor sha256", extractor_sha256, "protocol.extractor_sha256"),
        )
        if have != ref[key]
    ]


def check_assets(config: Mapping[Any, Any], dataset_checksum: str, extractor: str, extractor_sha256: str) -> None:
    """Refuse a run whose data or feature extractor are not the protocol's (checked once they are loaded)."""
    node = config.get("protocol")
    if not node:
        return
    bad = asset_mismatches(node["name"], dataset_checksum, extractor, extractor_sha256)
    if bad:
        what, have, want = bad[0]
        raise BenchError(f"this run's {what} is {have}, protocol {node['name']} fixes {want}: not the protocol's files")


def results_violations(results: Mapping[str, Any]) -> list[str]:
    """What a results.json that names a protocol changed of it: its config's fixed keys, and the data and feature
    extractor it records against the protocol's sha256 (the leaderboard refuses such a result)."""
    bad = violations(results["config"])
    node = results["config"].get("protocol")
    if bad or not node:
        return bad
    dataset, extractor = results.get("dataset", {}), results.get("feature_extractor", {})
    return [
        f"{what} {have} (protocol {node['name']} fixes {want})"
        for what, have, want in asset_mismatches(
            node["name"], dataset.get("checksum"), extractor.get("name"), extractor.get("sha256")
        )
    ]
