"""Leaderboard entries: a researcher's runs under one protocol, packed into one file (`python -m bench.submit`).

An entry holds each run's results.json as the exact text the run wrote, with its sha256, beside the protocol it
claims. The leaderboard unpacks it into the same runs its folders would give: each text must match its sha256,
and is then read like any results.json (strict JSON, the published schema, self-consistency) and checked against
the package's own copy of the protocol (`bench.protocol.results_violations`). A changed number without a new
sha256 is refused as damaged; a changed fixed key (with or without one) is refused by the protocol check.
The checksums find damage and careless edits; they are not a signature.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import BenchError

FORMAT = "bench-entry"
VERSION = 1


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_entry(doc: Any) -> bool:
    """Whether a parsed JSON file given to the leaderboard is an entry rather than a results.json."""
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def pack(runs: list[tuple[Path, str, dict[str, Any]]], *, bench_version: str) -> dict[str, Any]:
    """The entry of `runs` ((path, results.json text, its parsed and checked document) each, under one protocol)."""
    protocols = {(doc["config"]["protocol"]["name"], doc["config"]["protocol"]["version"]) for _, _, doc in runs}
    if len(protocols) != 1:
        raise BenchError(f"an entry holds runs of one protocol; these have {sorted(protocols)}")
    ((name, version),) = protocols
    models = sorted({str(doc["config"].get("model", {}).get("name")) for _, _, doc in runs})
    return {
        "format": FORMAT,
        "format_version": VERSION,
        "protocol": {"name": name, "version": version},
        "models": models,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bench_version": bench_version,
        "runs": [{"source": str(path), "sha256": sha256_text(text), "results_json": text} for path, text, _ in runs],
    }


def unpack(path: Path, doc: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """The protocol the entry `doc` (read strictly from `path`) claims, and (name, results.json text) of each of its
    runs, each text checked against its sha256; the name (`entry.json#2 (run/folder)`) says where a problem is."""
    if doc.get("format_version") != VERSION:
        raise BenchError(f"{path}: entry format_version {doc.get('format_version')!r}; this bench reads {VERSION}")
    protocol = doc.get("protocol")
    if not isinstance(protocol, dict) or not isinstance(protocol.get("name"), str):
        raise BenchError(f"{path}: an entry names its protocol (protocol.name)")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        raise BenchError(f"{path}: an entry needs a non-empty runs list")
    out = []
    for i, run in enumerate(runs):
        name = f"{path}#{i}"
        if not isinstance(run, dict) or not isinstance(run.get("results_json"), str):
            raise BenchError(f"{name}: each run needs its results.json text (results_json)")
        name += f" ({run.get('source', '?')})"
        if run.get("sha256") != sha256_text(run["results_json"]):
            raise BenchError(f"{name}: its results.json does not match its sha256 (changed after it was packed)")
        out.append((name, run["results_json"]))
    return protocol["name"], out
