"""The published board (bench.analysis.board, bench.cli.board): every model and mitigation has its row or its
command, runs are found by their config, healthy models rank across models and failing ones among themselves, and
the page says where its numbers come from. Hand-made results under the short protocol mnist-smoke-v1, plus one real
run of the command end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bench import protocol
from bench.analysis import board as published
from bench.analysis.board_page import to_html, to_markdown
from bench.cli.board import main
from bench.config import compose
from test_aggregate import DEFAULT_CURVES, make_results, write_run
from test_leaderboard import CHROMIUM, _chromium

SMOKE = "mnist-smoke-v1"


def _entry(model: str, mitigation: str) -> published.Entry:
    m = next(x for x in published.MODELS if x.key == model)
    g = next(x for x in published.MITIGATIONS if x.key == mitigation)
    return published.Entry(m, g, SMOKE)


def _results(entry: published.Entry, seed: int, fid: list[float], *, healthy: bool = True) -> dict:
    """A results.json dict whose config is exactly what the entry's command resolves to (how the board finds it)."""
    cfg = OmegaConf.to_container(compose([*entry.arm.overrides, f"seed={seed}", "run_dir=."]), resolve=True)
    assert isinstance(cfg, dict)
    doc = make_results(
        seed=seed,
        curves={**{k: v[:1] * len(fid) for k, v in DEFAULT_CURVES.items()}, "fid": fid},
        checksum=cfg["protocol"]["data_checksum"],
        extractor_sha=cfg["protocol"]["extractor_sha256"],
        n_generated=cfg["metrics"]["n_samples"],
    )
    doc["config"] = cfg
    if not healthy:
        doc["generations"][0]["healthy"] = False
        doc["generations"][0]["warnings"] = ["generation 0 fails the health gate: FID 300.0 > 20 x the floor's 5.00"]
    return doc


def _write(root: Path, entry: published.Entry, fids: dict[int, list[float]], *, healthy: bool = True) -> None:
    for seed, fid in fids.items():
        write_run(root, f"{entry.key.replace('/', '_')}_s{seed}", _results(entry, seed, fid, healthy=healthy))


def _board(root: Path, board_entries: list[published.Entry]) -> published.Board:
    seeds = published.protocol_seeds(SMOKE)
    return published.build(published.find([root], board_entries, seeds), board_entries, seeds, SMOKE)


def test_every_model_in_conf_model_has_its_row():
    on_board = {m.overrides[0].removeprefix("model=") for m in published.MODELS}
    assert on_board == set(published.model_names()), "a model in conf/model/ is missing from the published board"
    assert {g.key for g in published.MITIGATIONS} >= {"replace", "replay", "accumulate", "accumulate_budget"}


def test_every_entry_keeps_the_protocol_it_runs_under():
    # a mitigation or model preset that changed a fixed key would be refused by every one of its runs
    for e in published.entries(published.PROTOCOL):
        cfg = OmegaConf.to_container(compose([*e.arm.overrides, "run_dir=."]), resolve=True)
        assert protocol.violations(cfg) == [], e.key


def test_healthy_models_rank_across_models_by_the_headline_and_failing_ones_among_themselves(tmp_path):
    vae_replace, vae_acc = _entry("vae", "replace"), _entry("vae", "accumulate")
    gauss_replace, gauss_acc = _entry("gaussian", "replace"), _entry("gaussian", "accumulate")
    flow_replace = _entry("flow", "replace")
    # headline = mean FID level / gen 0: vae replace (40 -> 80 -> 120) 2.0; vae accumulate (40 -> 50 -> 60) 1.25
    _write(tmp_path, vae_replace, {0: [40.0, 80.0, 120.0], 1: [40.0, 80.0, 120.0]})
    _write(tmp_path, vae_acc, {0: [40.0, 50.0, 60.0], 1: [40.0, 52.0, 62.0]})
    # the Gaussian's generation 0 fails the gate; its accumulate has the best headline of all (1.0)
    _write(tmp_path, gauss_replace, {0: [300.0, 400.0, 500.0], 1: [300.0, 400.0, 500.0]}, healthy=False)
    _write(tmp_path, gauss_acc, {0: [300.0, 300.0, 300.0], 1: [300.0, 300.0, 300.0]}, healthy=False)
    _write(tmp_path, flow_replace, {0: [30.0, 60.0, 90.0]})  # one seed of two: not run
    board = _board(tmp_path, [vae_replace, vae_acc, gauss_replace, gauss_acc, flow_replace])

    across = [(board.across.ranks[g.id], g.label) for g in board.across.groups]
    assert across == [(1, "vae · accumulate"), (2, "vae · replace (no mitigation)")]
    assert board.across.groups[0].scores[published.HEADLINE].mean == pytest.approx((50 / 40 + 51.5 / 40) / 2)
    gaussian = next(s for s in board.models if s.title.startswith("Gaussian"))
    assert [(gaussian.ranks[g.id], g.label) for g in gaussian.groups] == [
        (1, "accumulate"),
        (2, "replace (no mitigation)"),
    ]
    assert "fails the health gate in seeds 0, 1" in gaussian.note and "FID 300" in gaussian.note
    assert [(e.key, have) for e, have in board.not_run] == [("flow/replace", [0])]

    page = to_markdown(
        board, command="python -m bench.board", made="2026-12-06", protocol_lines=["loop.generations = 3"]
    )
    assert "| 1 | vae · accumulate | 2 | 1.269 ± " in page  # the headline first, with its interval
    assert "`python -m bench -m protocol=mnist-smoke-v1 model=flow loop=replace seed=1`" in page  # the missing seed
    assert "Made by `python -m bench.board` on 2026-12-06" in page and "commit" in page
    assert page.index("Across models") < page.index("### Gaussian") < page.index("## Not run")


def test_an_entry_run_with_other_settings_is_not_on_the_board(tmp_path):
    replace = _entry("gaussian", "replace")
    _write(tmp_path, replace, {0: [300.0, 400.0, 500.0], 1: [300.0, 400.0, 500.0]})
    doc = _results(replace, 1, [300.0, 400.0, 500.0])
    doc["config"]["model"]["reg"] = 2.0  # a free key, but not the preset's: another entry's run
    write_run(tmp_path, "other", doc)
    found = published.find([tmp_path], [replace], [0, 1])
    assert sorted(r.path.parent.name for r in found[replace.key].runs.values()) == [
        "gaussian_replace_s0",
        "gaussian_replace_s1",
    ]


def test_unknown_names_are_refused_in_one_line(capsys):
    assert main(["--models", "vae,transformer", "--out-dir", "/tmp"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'transformer'" in err and "allowed: vae, gaussian" in err
    assert main(["--protocol", "mnist-v9"]) == 2
    assert "allowed: mnist-smoke-v1, mnist-v1" in capsys.readouterr().err


@pytest.mark.slow
def test_the_command_runs_missing_seeds_and_writes_both_pages(tmp_path):
    """Real runs: the Gaussian under mnist-smoke-v1 (500 images, 3 generations, 2 seeds), replace and accumulate;
    the VAE's entries are on the page as not run."""
    docs = tmp_path / "docs"
    args = ["--protocol", SMOKE, "--models", "gaussian,vae", "--mitigations", "replace,accumulate", "--run", "gaussian"]
    args += ["--outputs", str(tmp_path / "outputs"), "--out-dir", str(docs), f"hydra.sweep.dir={tmp_path / 'outputs'}"]
    done = subprocess.run([sys.executable, "-m", "bench.board", *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("running: ") == 4  # one run per entry and seed
    page = (docs / "leaderboard.md").read_text()
    assert re.search(r"\| 1 \| accumulate[^|]* \| 2 \| 1\.\d+ ± ", page)
    assert re.search(r"\| 2 \| replace [^|]* \| 2 \| ", page)
    assert page.count("| vae |") == 2 and re.search(r"model=vae loop=accumulate \S* ?seed=0,1`", page)
    assert "fails the health gate" in page  # the Gaussian's FID is far above the protocol's limit
    # a second call finds the runs and runs nothing
    again = subprocess.run([sys.executable, "-m", "bench.board", *args], capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and "running: " not in again.stdout
    assert (docs / "leaderboard.md").read_text() == page

    if CHROMIUM.exists():
        out = _chromium(["--dump-dom", (docs / "leaderboard.html").as_uri()], tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        dom = out.stdout
        assert 'data-rendered="true"' in dom and "Published board: protocol mnist-smoke-v1" in dom
        assert len(re.findall(r'<tr data-entry="', dom)) == 2
        assert "<h2>Gaussian, full covariance (conf/model/gaussian.yaml)</h2>" in dom  # the gate's note below it
        assert "Generation 0 fails the health gate in seeds 0, 1" in dom
        assert dom.count("<code>python -m bench -m protocol=mnist-smoke-v1 model=vae") == 2  # the not-run list


def test_the_html_page_holds_the_sections_and_the_not_run_list(tmp_path):
    replace = _entry("vae", "replace")
    _write(tmp_path, replace, {0: [40.0, 80.0, 120.0], 1: [41.0, 80.0, 121.0]})
    board = _board(tmp_path, [replace, _entry("ldm", "replace")])
    html = to_html(board, command="python -m bench.board", made="2026-12-06", protocol_lines=["x = 1"])
    assert '"title": "Published board: protocol mnist-smoke-v1"' in html
    assert "model=ldm loop=replace seed=0,1" in html and html.count("</script>") == 2


def test_entries_whose_headline_intervals_overlap_are_named_under_their_table(tmp_path):
    replace, accumulate = _entry("vae", "replace"), _entry("vae", "accumulate")
    _write(tmp_path, replace, {0: [40.0, 80.0, 120.0], 1: [40.0, 60.0, 80.0]})  # headlines 2.0 and 1.5
    _write(tmp_path, accumulate, {0: [40.0, 70.0, 100.0], 1: [40.0, 60.0, 80.0]})  # 1.75 and 1.5
    board = _board(tmp_path, [replace, accumulate])
    page = to_markdown(board, command="python -m bench.board", made="2026-12-06", protocol_lines=[])
    assert "overlap the next entry's" in page and "accumulate and replace (no mitigation)." in page
    # 2.0 and 2.0075 against 1.0 and 1.0075: apart even at 2 seeds (t = 12.7)
    _write(tmp_path, replace, {0: [40.0, 80.0, 120.0], 1: [40.0, 80.4, 120.8]})
    _write(tmp_path, accumulate, {0: [40.0, 40.0, 40.0], 1: [40.0, 40.4, 40.8]})
    board = _board(tmp_path, [replace, accumulate])
    assert "overlap" not in to_markdown(board, command="c", made="d", protocol_lines=[])


def test_the_archived_results_rebuild_the_same_page_alone_or_beside_their_run_folders(tmp_path, capsys):
    replace, accumulate = _entry("vae", "replace"), _entry("vae", "accumulate")
    outputs, runs = tmp_path / "outputs", tmp_path / "runs"
    _write(outputs, replace, {0: [40.0, 80.0, 120.0], 1: [41.0, 80.0, 121.0]})
    _write(outputs, accumulate, {0: [40.0, 60.0, 70.0], 1: [41.0, 62.0, 71.0]})
    args = ["--protocol", SMOKE, "--models", "vae", "--mitigations", "replace,accumulate"]

    def page(outs: str, out_dir: Path, *more: str) -> str:
        assert main([*args, "--outputs", outs, "--out-dir", str(out_dir), *more]) == 0
        text = (out_dir / "leaderboard.md").read_text()
        return "\n".join(line for line in text.splitlines() if not line.startswith("Made by"))  # names --outputs

    published_page = page(str(outputs), tmp_path / "a", "--archive", str(runs))
    kept = sorted(p.relative_to(runs).as_posix() for p in runs.rglob("results.json"))
    assert kept == [f"vae/{m}/seed{s}/results.json" for m in ("accumulate", "replace") for s in (0, 1)]
    assert (runs / "vae/replace/seed1/results.json").read_bytes() == next(
        (outputs / "vae_replace_s1").glob("results.json")
    ).read_bytes()
    assert "| 1 | accumulate" in published_page
    capsys.readouterr()
    # the archive alone, and the archive beside the run folders it was copied from (each run read once)
    assert page(str(runs), tmp_path / "b") == published_page
    assert page(f"{outputs},{runs}", tmp_path / "c", "--archive", str(runs)) == published_page
    out = capsys.readouterr()
    assert "warning" not in out.err and "archived 0 results.json" in out.out  # nothing new to copy


def test_the_page_names_the_cpu_kernels_where_the_runs_recorded_them():
    from bench.analysis.board_page import _machine

    env = {"device": "AMD EPYC", "accelerator": "cpu", "torch_threads": 1}
    assert _machine(env) == "AMD EPYC (cpu, 1 torch thread(s))"  # a run from before 2026-12-07
    assert _machine({**env, "cpu_capability": "AVX2"}) == "AMD EPYC (cpu, AVX2, 1 torch thread(s))"


def test_the_published_page_is_what_its_archived_runs_say(tmp_path, capsys):
    """docs/runs ships the results.json of every run docs/leaderboard.md ranks: rebuilt from them alone, the page
    is the same, rows, numbers and Not run commands (only the Made by line, naming --outputs and the date, differs)."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    assert main(["--outputs", str(docs / "runs"), "--out-dir", str(tmp_path)]) == 0
    capsys.readouterr()

    def body(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("Made by")]

    assert body((tmp_path / "leaderboard.md").read_text()) == body((docs / "leaderboard.md").read_text())


def test_by_default_the_page_reads_outputs_and_the_archive_and_names_a_run_that_differs(tmp_path, monkeypatch, capsys):
    """A fresh checkout has no outputs/, only docs/runs: the plain command rebuilds the page from the archive. The
    same config and seed with other numbers in the two (another machine's run) is a warning naming both files."""
    replace = _entry("vae", "replace")
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "docs" / "runs", replace, {0: [40.0, 80.0, 120.0], 1: [41.0, 80.0, 121.0]})
    args = ["--protocol", SMOKE, "--models", "vae", "--mitigations", "replace", "--out-dir", "page"]
    assert main(args) == 0
    assert re.search(r"\| 1 \| replace [^|]* \| 2 \| ", (tmp_path / "page" / "leaderboard.md").read_text())
    capsys.readouterr()
    _write(tmp_path / "outputs", replace, {0: [40.0, 90.0, 130.0]})
    assert main(args) == 0  # outputs/ comes first: its run is read, the archived one left out with a warning
    err = capsys.readouterr().err
    assert err.startswith("warning: docs/runs/") and "repeat outputs/" in err and "with other numbers" in err
    assert "read one of the two folders" in err
