"""The leaderboard files from hand-made results: tracks apart, numbers that read back, rejection in one line, and
the HTML page rendered by headless Chromium (skipped where /usr/bin/chromium is absent)."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.analysis.aggregate import estimate
from bench.analysis.leaderboard import build_leaderboard, default_out_dir, fmt
from bench.cli.leaderboard import main
from bench.report.summary import summary_scores
from test_aggregate import DEFAULT_CURVES, make_results, write_run

CHROMIUM = Path("/usr/bin/chromium")


def _curves(fid: list[float], recall: float = 0.4) -> dict[str, list[float]]:
    return {**DEFAULT_CURVES, "fid": fid, "recall": [recall] * len(fid)}


def _runs(root: Path) -> dict[str, list[dict]]:
    """Track A (100 images scored): replace x3 seeds, real x1; track B (50 images scored): replace x1. The three
    seeds agree at generation 0 (FID ± 5% of its mean: no "generation 0 unstable" flag) and part later."""
    docs = {
        "a_replace": [
            make_results(seed=s, curves=_curves(fid, recall=0.3 + 0.01 * s))
            for s, fid in enumerate([[100.0, 150.0, 200.0], [102.0, 170.0, 230.0], [98.0, 160.0, 190.0]])
        ],
        "a_real": [make_results(seed=0, loop="real", curves=_curves([100.0, 101.0, 99.5], recall=0.5))],
        "b_replace": [make_results(seed=0, n_generated=50, curves=_curves([300.0, 310.0, 320.0]))],
    }
    for name, runs in docs.items():
        for doc in runs:
            write_run(root, f"{name}_s{doc['config']['seed']}", doc)
    return docs


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_files_are_written_and_the_csv_reads_back_the_inputs(tmp_path):
    docs = _runs(tmp_path / "runs")
    written = build_leaderboard([tmp_path / "runs"], out_dir=tmp_path / "out", n_resamples=0)
    assert [p.name for p in written] == ["leaderboard.md", "leaderboard.csv", "leaderboard.html"]
    rows = _read_csv(tmp_path / "out" / "leaderboard.csv")

    def row(entry: str, quantity: str, generation: int | None = None, n_generated: int = 100) -> dict[str, str]:
        (r,) = [
            r
            for r in rows
            if r["entry"] == entry
            and r["quantity"] == quantity
            and r["generation"] == ("" if generation is None else str(generation))
            and r["n_generated"] == str(n_generated)
        ]
        return r

    # one seed: the values themselves, exactly, and no interval
    real = docs["a_real"][0]
    for t, g in enumerate(real["generations"]):
        for key in ("fid", "precision", "recall", "coverage", "classes_covered"):
            r = row("vae real", key, t)
            assert float(r["mean"]) == g["metrics"][key] and r["ci_low"] == r["ci_high"] == "" and r["n"] == "1"
    for key, value in summary_scores(real)["metrics"]["fid"].items():
        assert float(row("vae real", f"fid.{key}")["mean"]) == value
    # three seeds: mean and Student-t interval of the inputs
    for t in range(3):
        e = estimate(d["generations"][t]["metrics"]["fid"] for d in docs["a_replace"])
        r = row("vae replace", "fid", t)
        assert (float(r["mean"]), float(r["ci_low"]), float(r["ci_high"]), int(r["n"])) == (e.mean, e.low, e.high, 3)
    auc = estimate(summary_scores(d)["metrics"]["fid"]["auc"] for d in docs["a_replace"])
    assert float(row("vae replace", "fid.auc")["mean"]) == auc.mean
    assert row("vae replace", "fid.auc")["higher_is_better"] == "false"
    assert row("vae replace", "recall.last")["higher_is_better"] == "true"
    assert row("vae replace", "fid", 0)["seeds"] == "0 1 2"


def test_tracks_are_never_ranked_together(tmp_path):
    _runs(tmp_path / "runs")
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    rows = _read_csv(tmp_path / "leaderboard.csv")
    ranks = {(r["n_generated"], r["entry"]): r["rank"] for r in rows}
    # track A ranks by mean FID level (lower is better): real first; track B's only entry is its own first
    assert ranks == {("100", "vae real"): "1", ("100", "vae replace"): "2", ("50", "vae replace"): "1"}
    md = (tmp_path / "leaderboard.md").read_text()
    sections = re.split(r"^## ", md, flags=re.M)[1:]
    tables = [s for s in sections if "generated images scored" in s]
    by_size = {re.search(r"(\d+) generated images scored", t).group(1): t for t in tables}
    assert len(tables) == 2 and by_size["100"].count("| vae ") == 2 and by_size["50"].count("| vae ") == 1
    html = (tmp_path / "leaderboard.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))
    assert sorted(len(t["entries"]) for t in data["tracks"]) == [1, 2]


def test_rank_by_follows_the_metric_direction(tmp_path):
    _runs(tmp_path / "runs")
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, rank_by="recall.last", n_resamples=0)
    rows = [r for r in _read_csv(tmp_path / "leaderboard.csv") if r["n_generated"] == "100"]
    assert {r["entry"]: r["rank"] for r in rows} == {"vae real": "1", "vae replace": "2"}  # higher recall first


def test_markdown_cells_show_mean_interval_and_n(tmp_path):
    docs = _runs(tmp_path / "runs")
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    md = (tmp_path / "leaderboard.md").read_text()
    e = estimate(d["generations"][2]["metrics"]["fid"] for d in docs["a_replace"])
    assert e.half_width is not None
    line = next(line for line in md.splitlines() if line.startswith("| 2 | vae replace |"))
    assert f"{fmt(e.mean)} ± {fmt(e.half_width, 2)}" in line and "| 3 |" in line
    real = next(line for line in md.splitlines() if line.startswith("| 1 | vae real |"))
    assert "±" not in real and "| 1 |" in real  # one seed: no interval
    assert "## Definitions" in md and "`<metric>.auc`" in md


def test_a_bad_file_stops_the_command_in_one_line_unless_skipped(tmp_path, capsys):
    _runs(tmp_path / "runs")
    bad = make_results(seed=7)
    del bad["generations"][2]["metrics"]["fid"]
    path = write_run(tmp_path / "other", "x", bad) / "results.json"
    assert main([str(tmp_path / "runs"), str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: generations[2].metrics.fid missing\n"
    assert not (tmp_path / "out").exists()
    assert main([str(tmp_path / "runs"), str(path), "--out", str(tmp_path / "out"), "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"warning: {path}: generations[2].metrics.fid missing (skipped)\n"
    assert "1. vae real" in captured.out and "written:" in captured.out
    assert main([str(tmp_path / "runs"), "--rank-by", "fid.nonsense", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --rank-by 'fid.nonsense' is not a summary score")


def test_default_output_is_the_common_folder_of_the_inputs(tmp_path):
    _runs(tmp_path / "runs")
    a, b = tmp_path / "runs" / "a_real_s0", tmp_path / "runs" / "b_replace_s0" / "results.json"
    assert default_out_dir([a, b]) == tmp_path / "runs"
    assert default_out_dir([a]) == a


def test_the_module_runs_as_a_command(tmp_path):
    _runs(tmp_path / "runs")
    out = subprocess.run(
        [sys.executable, "-m", "bench.cli.leaderboard", str(tmp_path / "runs"), "--bootstrap", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "runs" / "leaderboard.html").is_file()
    assert out.stdout.splitlines()[-1].startswith("written: ")


def test_the_page_is_self_contained_and_escapes_what_files_say(tmp_path):
    (tmp_path / "runs").mkdir()
    doc = make_results(model="</script><img src=x onerror=alert(1)>")
    write_run(tmp_path / "runs", "evil", doc)
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    html = (tmp_path / "leaderboard.html").read_text()
    assert html.count("</script>") == 2  # the data block's and the script's own: the label cannot close one
    assert "<img" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert re.findall(r"https?://[^\s\"')]+", html) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    return subprocess.run(
        [str(CHROMIUM), *flags, f"--user-data-dir={tmp_path / 'chromium'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium absent (apt-get install -y chromium)")
def test_headless_chromium_renders_every_row(tmp_path):
    _runs(tmp_path / "runs")
    write_run(tmp_path / "runs", "evil_s0", make_results(model="<img src=x onerror=alert(1)>"))
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    out = _chromium(["--dump-dom", (tmp_path / "leaderboard.html").as_uri()], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert 'data-rendered="true"' in dom
    rows = re.findall(r'<tr data-entry="([0-9a-f]+)"', dom)
    assert len(rows) == 4 and len(set(rows)) == 4  # every entry of both tracks, once
    assert dom.count('<table class="board"') == 2
    assert "vae replace" in dom and "vae real" in dom
    assert dom.count("<polyline") >= 4 * 5  # a curve per entry and main metric
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom and "<img" not in dom  # a label is text, never markup


def _unhealthy(doc: dict, *, generations: bool = True) -> dict:
    """`doc` with its generation 0 marked unhealthy, as the health gate writes it."""
    doc["generations"][0]["healthy"] = False
    doc["generations"][0]["warnings"] = ["generation 0 fails the health gate: FID 248.0 > 3 x the floor's 5.00"]
    return doc


def test_an_unhealthy_generation_0_is_never_ranked_among_healthy_runs(tmp_path):
    # the unhealthy run has the better (lower) FID everywhere: ranked, it would come first
    write_run(tmp_path / "runs", "healthy", make_results(loop="replace", curves=_curves([300.0, 310.0, 320.0])))
    write_run(tmp_path / "runs", "nan", _unhealthy(make_results(loop="real", curves=_curves([20.0, 21.0, 22.0]))))
    board = tmp_path / "out"
    build_leaderboard([tmp_path / "runs"], out_dir=board, n_resamples=0)
    rows = _read_csv(board / "leaderboard.csv")
    ranks = {r["entry"]: r["rank"] for r in rows}
    reasons = {r["entry"]: r["not_ranked"] for r in rows}
    assert ranks == {"vae replace": "1", "vae real": ""}
    assert reasons["vae replace"] == "" and "generation 0 diverged or unhealthy in 1/1 seeds (0)" in reasons["vae real"]
    md = (board / "leaderboard.md").read_text()
    ranked, apart = md.split("### Not ranked")
    assert "| 1 | vae replace |" in ranked and "vae real" not in ranked
    assert "| – | vae real |" in apart and "health gate" in apart
    html = (board / "leaderboard.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))
    entries = {e["label"]: e for e in data["tracks"][0]["entries"]}
    assert entries["vae real"]["rank"] is None and "unhealthy" in entries["vae real"]["not_ranked"]
    assert entries["vae replace"]["rank"] == 1 and entries["vae replace"]["not_ranked"] is None


def test_one_unhealthy_seed_keeps_its_entry_out_of_the_ranking(tmp_path):
    for s in range(3):
        doc = make_results(seed=s, loop="real", curves=_curves([20.0 + s, 21.0, 22.0]))
        write_run(tmp_path / "runs", f"real_s{s}", _unhealthy(doc) if s == 2 else doc)
    write_run(tmp_path / "runs", "replace", make_results(loop="replace", curves=_curves([300.0, 310.0, 320.0])))
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    rows = _read_csv(tmp_path / "leaderboard.csv")
    assert {r["entry"]: r["rank"] for r in rows} == {"vae replace": "1", "vae real": ""}
    assert {r["not_ranked"] for r in rows if r["entry"] == "vae real"} == {
        "generation 0 diverged or unhealthy in 1/3 seeds (2); generation 0 unhealthy: generation 0 fails the health "
        "gate: FID 248.0 > 3 x the floor's 5.00"
    }


def test_a_run_without_generation_0_is_a_diverged_one():
    from bench.analysis.leaderboard import generation_zero_problem

    assert generation_zero_problem({"generations": []}) == "no generation 0 (diverged)"
    assert generation_zero_problem({}) == "no generation 0 (diverged)"
    assert generation_zero_problem({"generations": [{"generation": 0, "healthy": True}]}) is None
    assert generation_zero_problem({"generations": [{"generation": 0}]}) is None
    assert generation_zero_problem({"generations": [{"generation": 0, "healthy": False}]}) == "generation 0 unhealthy"


def _seeds(root: Path, loop: str, gen0: list[float], extra_config: dict | None = None) -> None:
    """One entry of len(gen0) seeds whose generation-0 FIDs are `gen0` (later generations alike)."""
    for s, fid in enumerate(gen0):
        doc = make_results(seed=s, loop=loop, curves=_curves([fid, 150.0, 200.0]), extra_config=extra_config)
        write_run(root, f"{loop}_s{s}", doc)


def test_an_entry_whose_seeds_disagree_at_generation_0_is_flagged_but_still_ranked(tmp_path):
    _seeds(tmp_path / "runs", "replace", [100.0, 110.0, 120.0])  # ± 24.84 around 110: 22.6% of the mean
    _seeds(tmp_path / "runs", "real", [100.0, 101.0, 102.0])  # ± 2.48 around 101: 2.5%
    lines: list[str] = []
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0, echo=lines.append)
    rows = _read_csv(tmp_path / "leaderboard.csv")
    by_entry = {r["entry"]: r for r in rows}
    spread = 4.302652729911275 * 10 / math.sqrt(3) / 110
    assert float(by_entry["vae replace"]["gen0_fid_spread"]) == pytest.approx(spread)
    assert {r["gen0_unstable"] for r in rows if r["entry"] == "vae replace"} == {"true"}
    assert {r["gen0_unstable"] for r in rows if r["entry"] == "vae real"} == {"false"}
    assert float(by_entry["vae real"]["gen0_fid_spread"]) == pytest.approx(4.302652729911275 / math.sqrt(3) / 101)
    assert {r["entry"]: (r["rank"], r["not_ranked"]) for r in rows} == {"vae real": ("1", ""), "vae replace": ("2", "")}
    md = (tmp_path / "leaderboard.md").read_text()
    assert "### Not ranked" not in md
    (flagged,) = [line for line in md.splitlines() if line.startswith("| 2 | vae replace ")]
    assert "⚠ generation 0 unstable (FID ± 22.6% of its mean, limit 10%)" in flagged
    assert any(line.startswith("| 1 | vae real | 3 |") for line in md.splitlines())  # no flag
    assert "- ⚠ generation 0 unstable: " in md  # the definition
    html = (tmp_path / "leaderboard.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))
    entries = {e["label"]: e for e in data["tracks"][0]["entries"]}
    unstable = entries["vae replace"]
    assert unstable["gen0_unstable"] is True and "generation 0 unstable" in unstable["flags"] and unstable["rank"] == 2
    assert entries["vae real"]["gen0_unstable"] is False and entries["vae real"]["flags"] == ""
    (console,) = [line for line in lines[0].splitlines() if "vae replace" in line]
    assert "2. vae replace" in console and "⚠ generation 0 unstable" in console
    assert "⚠" not in next(line for line in lines[0].splitlines() if "vae real" in line)


def test_the_spread_limit_comes_from_the_runs_configs_and_one_seed_has_no_spread(tmp_path):
    # the same 22.6% spread under a limit of 0.3 is no flag; one seed has no interval, so no spread at all
    loose = {"health": {"max_gen0_fid_spread": 0.3}}
    _seeds(tmp_path / "runs", "replace", [100.0, 110.0, 120.0], extra_config=loose)
    _seeds(tmp_path / "runs", "real", [100.0], extra_config=loose)
    build_leaderboard([tmp_path / "runs"], out_dir=tmp_path, n_resamples=0)
    rows = _read_csv(tmp_path / "leaderboard.csv")
    assert {(r["entry"], r["gen0_unstable"]) for r in rows} == {("vae replace", "false"), ("vae real", "false")}
    assert {r["gen0_fid_spread"] for r in rows if r["entry"] == "vae real"} == {""}
    assert "generation 0 unstable (" not in (tmp_path / "leaderboard.md").read_text()
    (tmp_path / "tight").mkdir()
    _seeds(tmp_path / "tight", "replace", [100.0, 110.0, 120.0], extra_config={"health": {"max_gen0_fid_spread": 0.2}})
    build_leaderboard([tmp_path / "tight"], out_dir=tmp_path / "tight", n_resamples=0)
    assert "(FID ± 22.6% of its mean, limit 20%)" in (tmp_path / "tight" / "leaderboard.md").read_text()
