"""The layout's arrows (docs/architecture.md): one package per stage, imports pointing down only, no import circle.

`lint-imports` (import-linter, contracts in pyproject.toml) runs in CI; these tests show that it passes on the tree,
that an upward import planted in a copy of the package fails it with the import named, and that no two modules
import each other, directly or around a circle (grimp, the graph import-linter builds).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_its_layers():
    out = lint(ROOT, ROOT / "src")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "1 kept, 0 broken" in out.stdout


def test_an_upward_import_is_named_and_fails(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "bench", src / "bench", ignore=shutil.ignore_patterns("__pycache__", "conf"))
    fid = src / "bench" / "metrics" / "fid.py"
    fid.write_text(fid.read_text() + "\nimport bench.models.vae  # planted: a metric that knows a model\n")
    out = lint(tmp_path, src)
    assert out.returncode != 0, out.stdout[-3000:]
    assert "bench.metrics is not allowed to import bench.models" in out.stdout
    assert "bench.metrics.fid -> bench.models.vae" in out.stdout


def circles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan): each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return found


def test_no_module_imports_itself_around_a_circle():
    assert circles(grimp.build_graph("bench")) == []


def test_the_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for m in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(m)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert circles(graph) == [["a.x", "a.y", "a.z"]]
