"""python -m bench.reproductions --claims K --keep-others: K rebuilt, every other claim's section kept word for word."""

import shutil
from pathlib import Path

import pytest

from bench.analysis.reproductions.claims import RECENT_CLAIMS
from bench.analysis.reproductions.merge import merge, split
from bench.cli.reproductions import main as reproductions_main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reproductions_recent.md"
ANCHORS = [c.key.replace("_", "-") for c in RECENT_CLAIMS]


def test_a_page_merged_with_itself_is_itself():
    text = PAGE.read_text()
    assert merge(text, text, ANCHORS, ANCHORS, "page") == text
    # keeping sections adds one line that says which were rebuilt, and changes nothing else
    kept = merge(text, text, ANCHORS, ["entropy-selection"], "page")
    line = (
        "Rebuilt by this command: [entropy-selection](#entropy-selection). The other sections are kept word for "
        "word from the page as it was, with the runs they were made from.\n\n"
    )
    assert kept.count(line) == 1 and kept.replace(line, "") == text


def _published(tmp_path, monkeypatch, text: str | None = None) -> Path:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "docs" / "reproductions_recent.md"
    out.parent.mkdir()
    if text is None:
        shutil.copy(PAGE, out)
    else:
        out.write_text(text)
    return out


def test_the_claims_named_are_rebuilt_and_the_others_kept(tmp_path, monkeypatch):
    original = split(PAGE.read_text(), "page")
    # a marker in the section to rebuild must go; the kept ones are the published page's, verdicts and all
    out = _published(tmp_path, monkeypatch, PAGE.read_text().replace("## Keeping D_t", "MARKER\n\n## Keeping D_t"))
    args = ["--page", "recent", "--claims", "entropy_selection", "--keep-others", "--no-run"]
    assert reproductions_main(args) == 0
    page = split(out.read_text(), "page")
    assert "MARKER" not in out.read_text()
    assert "**Verdict: not run.**" in page.sections["entropy-selection"]  # no run folders here
    for anchor in ANCHORS[:2] + ANCHORS[3:]:
        assert page.sections[anchor] == original.sections[anchor], anchor
        assert page.rows[anchor] == original.rows[anchor], anchor
    assert "**reproduced**" in page.rows["negative-guidance"]  # a rebuild without its runs would say not run
    assert set(original.setups) <= set(page.setups) and page.machines == original.machines
    assert "`python -m bench.reproductions --page recent --claims entropy_selection --keep-others`" in out.read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t[: t.index('<a id="negative-guidance">')], "has no section for negative-guidance, weighted-replay"),
        (lambda t: "hello\n", "is not a reproductions page"),
        (None, "--keep-others needs --claims"),
    ],
)
def test_a_page_that_cannot_be_kept_is_a_one_line_error_and_left_as_it_is(tmp_path, monkeypatch, capsys, edit, message):
    text = PAGE.read_text()
    out = _published(tmp_path, monkeypatch, edit(text) if edit else text)
    before = out.read_text()
    claims = ["--claims", "entropy_selection"] if edit else []
    assert reproductions_main(["--page", "recent", *claims, "--keep-others", "--no-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert out.read_text() == before


def test_keeping_sections_of_a_page_that_is_not_there_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert reproductions_main(["--page", "recent", "--claims", "entropy_selection", "--keep-others", "--no-run"]) == 2
    assert "cannot read the page to keep sections from, docs/reproductions_recent.md" in capsys.readouterr().err
    assert not (tmp_path / "docs").exists()
