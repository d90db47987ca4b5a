"""Every file, folder and module the README (and docs/) names exists in a clean clone.

A user's clone holds only this repository: a path outside it (`../shared/...`), a renamed script or a moved module
in a command is a broken front door. CI runs this on a fresh clone, so "exists" here means "ships".
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# top-level entries a path in the docs may start with (run-folder files such as metrics.png are not repository paths)
REPO_DIRS = ("src/", "conf/", "docs/", "scripts/", "benchmarks/", "tests/", ".ci/")
LINK = re.compile(r"\]\(([^)\s]+)\)|\bsrc=\"([^\"]+)\"")
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
# files docs/contributing.md tells a contributor to create (its worked examples of a new model, loop, data set, metric)
TO_CREATE = {
    f"{d}/{n}"
    for d, n in [
        ("conf/data", "shapes.yaml"),
        ("conf/loop", "half.yaml"),
        ("conf/model", "tiny.yaml"),
        ("src/bench/data", "shapes.py"),
        ("src/bench/loops", "half.py"),
        ("src/bench/metrics", "spread.py"),
        ("src/bench/models", "tiny.py"),
    ]
}
MODULE = re.compile(r"python3? -m (bench(?:\.[a-z_][a-z0-9_]*)*)\b(?!\.)")  # bench.NAME is a placeholder


def code_tokens(text: str) -> list[str]:
    tokens = []
    for block, span in CODE.findall(text):
        tokens += re.split(r"[\s=,;:()'\"]+", block or span)
    return [t.rstrip(".") for t in tokens if t]


def repo_path(token: str) -> Path | None:
    """The repository file a code token names, or None when it names none (a run-folder file, a pattern)."""
    if any(c in token for c in "<>*{}[]$") or "NAME" in token:  # a pattern or a placeholder (src/bench/NAME.py)
        return None
    if token.startswith(REPO_DIRS) or token.startswith(("pyproject.toml", "README.md")):
        return ROOT / token
    if token.startswith("bench/") and (token.endswith((".py", "/")) or "/" in token[6:]):
        return ROOT / "src" / token  # a module path as the package sees it
    return None


def named_paths(doc: Path) -> list[tuple[str, Path]]:
    text = doc.read_text()
    out = []
    for a, b in LINK.findall(text):
        target = (a or b).split("#")[0]
        if target and not re.match(r"[a-z]+:", target):
            out.append((target, (doc.parent / target)))
    for token in code_tokens(text):
        path = repo_path(token)
        if path is not None:
            out.append((token, path))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_a_doc_names_is_in_the_repository(doc):
    outside = [t for t in code_tokens(doc.read_text()) if t.startswith("../")]
    assert not outside, f"{doc.name} points outside the project: {outside}"
    missing = sorted({t for t, p in named_paths(doc) if not p.exists()} - TO_CREATE)
    assert not missing, f"{doc.name} names paths a clone does not have: {missing}"
    for _, p in named_paths(doc):
        assert ROOT in p.resolve().parents or p.resolve() == ROOT, f"{doc.name}: {p} is outside the repository"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_module_a_doc_runs_exists(doc):
    modules = set(MODULE.findall(doc.read_text()))
    missing = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert not missing, f"{doc.name} runs modules that do not exist: {missing}"


def test_the_checks_catch_what_they_are_for(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(
        "Run `bash ../shared/tools/gpu-wheels.sh`, then `python scripts/nope.py` and `python -m bench.nope`;\n"
        "see [the page](docs/missing.md) and `src/bench/engine/run.py`, `outputs/<date>/metrics.png`.\n"
    )
    tokens = code_tokens(doc.read_text())
    assert "../shared/tools/gpu-wheels.sh" in tokens
    named = {t: p.exists() for t, p in named_paths(doc)}
    assert named["scripts/nope.py"] is False and named["src/bench/engine/run.py"] is True
    assert named["docs/missing.md"] is False, "links resolve against the document's folder"
    assert not any("outputs" in t for t in named), "run-folder files are not repository paths"
    assert MODULE.findall(doc.read_text()) == ["bench.nope"]
