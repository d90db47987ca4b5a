"""The README's diffusion numbers say where they come from and how much they vary (issue 18, item 4): a number
that a second machine does not reproduce must not read as a result."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n### ", start + len(title))
    return README[start : end if end != -1 else None]


def test_the_diffusion_table_names_its_machine_and_seeds_and_the_old_presets_spread_across_machines():
    ddpm = " ".join(section("### A diffusion model").split())  # prose wraps anywhere
    # the preset's generation 0 is a 3-seed interval on a named machine, with the seeds' own values beside it
    assert "3 seeds" in ddpm and "Intel Xeon" in ddpm and "AMD EPYC" in ddpm
    assert re.search(r"27\.5 ± 10\.2 \(22\.8, 30\.5, 29\.1\)", ddpm), "the first preset, for comparison"
    # the preset's generation-0 FID is the recipe study's 3-seed row for it (docs/diffusion_recipe.md)
    recipe = (Path(__file__).resolve().parents[1] / "docs" / "diffusion_recipe.md").read_text()
    row = next(line for line in recipe.splitlines() if line.startswith("| ldm 32/64, 3000 steps, cosine (preset)"))
    fid = _cells(row)[5]
    assert f"| FID | {fid} (24.5, 25.0, 22.7)" in section("### A diffusion model")
    # the single-seed frozen/retrain runs say they are a sample
    assert "seed 0 only (a sample" in ddpm
    # the old DDPM's generation 0 on two machines (154 and 259) stays beside it as what not to trust
    assert "154" in ddpm and "259" in ddpm
    assert "about 5 FID" not in ddpm, "run-to-run noise of 5 FID was one machine's thread count, not the spread"


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def test_the_readme_board_rows_are_the_published_pages_numbers():
    """Every row the README quotes from docs/leaderboard.md has the page's rank, seeds and numbers for its entry."""
    start = README.index("## The published board")
    board = README[start : README.index("\n## ", start)]
    page = (Path(__file__).resolve().parents[1] / "docs" / "leaderboard.md").read_text()
    vae = page[page.index("### VAE") :]
    vae = vae[: vae.index("\n### ")]
    # an entry's flags (⚠ generation 0 unstable, ...) follow its label on the page
    page_rows = {_cells(r)[1].split(" ⚠")[0]: _cells(r) for r in vae.splitlines() if re.match(r"\| \d+ \|", r)}
    quoted = [_cells(r) for r in board.splitlines() if re.match(r"\| \d+ \|", r)]
    assert len(quoted) >= 5
    for rank, entry, n, headline, fid0, fid_last, classes in quoted:
        row = page_rows[entry.strip("`")]
        # the page's columns: rank, entry, n, headline, FID gen 0, FID last, recall, coverage, classes last, ...
        assert [rank, n, headline, fid0, fid_last, classes] == [row[0], row[2], row[3], row[4], row[5], row[8]], entry
    assert "AMD EPYC" in board and "3 seeds" in board


def test_the_readme_frozen_against_retrained_numbers_are_the_recipe_tables():
    """The README's 3-seed frozen/retrained gap at generation 4 is the recipe study's paired table (issue 15)."""
    recipe = (Path(__file__).resolve().parents[1] / "docs" / "diffusion_recipe.md").read_text()
    part = recipe[recipe.index("## Frozen against retrained autoencoder under `replace`, `experiment=ldm_cpu`") :]
    rows = {tuple(_cells(r)[:2]): _cells(r)[2:] for r in part.splitlines() if r.startswith("| fid |")}
    frozen, retrain = rows[("fid", "`frozen`")][4], rows[("fid", "`retrain`")][4]
    gap = rows[("fid", "retrain − frozen, paired")][4]
    ddpm = " ".join(section("### A diffusion model").split())
    assert f"generation 4 is {frozen} frozen against {retrain} retrained (paired gap +{gap};" in ddpm
    assert "3 seeds" in ddpm and "seed=0,1,2" in ddpm


# the README's words for each claim of docs/reproductions_recent.md, and the page's title of it
RECENT = {
    "π²/6": "## Accumulating keeps the error within π²/6",
    "memorisation of the model's own data": "## Under fully synthetic retraining a model memorises",
    "weighted replay": "## Weighting the real data at 1/φ",
    "negative guidance": "## Negative guidance from a self-consumed model",
    "entropy selection": "## Keeping D_t's entropy high by selection",
    "verifier quality": "## A better verifier helps more",
}
INTERVAL = re.compile(r"([+−-]?\d+(?:\.\d+)?) \[([+−-]?\d+(?:\.\d+)?), ([+−-]?\d+(?:\.\d+)?)\]")


def _recent_paragraph() -> str:
    start = README.index("[docs/reproductions_recent.md](docs/reproductions_recent.md) holds")
    return " ".join(README[start : README.index("\n## ", start)].split())


def _page_verdicts() -> dict[str, str]:
    page = (Path(__file__).resolve().parents[1] / "docs" / "reproductions_recent.md").read_text()
    out = {}
    for words, title in RECENT.items():
        part = page[page.index(title) :]
        out[words] = re.search(r"\*\*Verdict: ([a-z ]+)\.\*\*", part).group(1)
    return out


def test_the_readme_verdicts_of_the_newest_claims_are_the_pages():
    """Each verdict the README gives for a claim of docs/reproductions_recent.md is the page's, and a claim the page
    has not run is said to be not run."""
    readme = _recent_paragraph()
    for words, verdict in _page_verdicts().items():
        if verdict == "not run":
            assert re.search(rf"{re.escape(words)}[^.]*\*\*not run\*\*", readme, re.IGNORECASE), words
        else:
            assert f"**{verdict}** for {words}".lower() in readme.lower(), (words, verdict)


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace("+", ""))


def test_every_interval_the_readme_quotes_from_the_newest_claims_is_on_the_page():
    """An interval `m [lo, hi]` in the README's paragraph on the newest claims is one of the page's, to the README's
    rounding: a rebuilt page that moves a number fails here until the README follows it."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "reproductions_recent.md").read_text()
    on_page = [tuple(map(_number, m)) for m in INTERVAL.findall(page)]
    quoted = INTERVAL.findall(_recent_paragraph())
    assert len(quoted) >= 8
    for q in quoted:
        assert any(_agrees(q, p) for p in on_page), f"{' '.join(q)} is not on docs/reproductions_recent.md"


def _agrees(quoted: tuple[str, ...], exact: tuple[float, ...]) -> bool:
    """Whether the README's rounded numbers are the page's to the README's decimals."""
    decimals = [len(x.split(".")[1]) if "." in x else 0 for x in quoted]
    return all(abs(_number(v) - w) <= 0.5 * 10**-d + 1e-9 for v, w, d in zip(quoted, exact, decimals, strict=True))


def test_the_readme_mnist_v1_verdict_and_fids_are_the_pages():
    """The README's paragraph on docs/reproductions_mnist_v1.md gives the page's verdict and its arms' FID gen 0 →
    last cells: a page rebuilt on another machine (its verdict moved from reproduced to partly) fails here until the
    README follows it."""
    start = README.index("[docs/reproductions_mnist_v1.md](docs/reproductions_mnist_v1.md) decides")
    paragraph = " ".join(README[start : README.index("[docs/reproductions_recent.md]", start)].split())
    page = (Path(__file__).resolve().parents[1] / "docs" / "reproductions_mnist_v1.md").read_text()
    verdict = re.search(r"\*\*Verdict: ([a-z ]+)\.\*\*", page).group(1)
    assert re.search(r"Verdict \([^)]*\): \*\*([a-z ]+)\*\*", paragraph).group(1) == verdict
    fids = re.findall(r"\d+ ± \d+ → \d+ ± \d+", paragraph)
    assert len(fids) == 3 and all(f in page for f in fids), fids
