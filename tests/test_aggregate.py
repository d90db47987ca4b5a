"""Reading results.json files from anywhere, grouping seeds, means and Student-t intervals (no training)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench.analysis.aggregate import (
    InvalidResults,
    Track,
    estimate,
    find_results,
    group_runs,
    load_results,
    load_runs,
    results_schema,
    t_quantile,
    validate,
)
from bench.errors import BenchError

CHECKSUM = "c" * 64
EXTRACTOR_SHA = "e" * 64
DEFAULT_CURVES = {
    "fid": [100.0, 150.0, 200.0],
    "kid_mean": [1.0, 2.0, 3.0],
    "precision": [0.5, 0.6, 0.7],
    "recall": [0.4, 0.3, 0.2],
    "density": [1.0, 1.1, 1.2],
    "coverage": [0.5, 0.4, 0.3],
    "classes_covered": [10, 10, 9],
}


def make_results(
    *,
    seed: int = 0,
    loop: str = "replace",
    real_fraction: float | None = None,
    curves: dict[str, list[Any]] | None = None,
    dataset: str = "mnist",
    checksum: str = CHECKSUM,
    extractor_sha: str = EXTRACTOR_SHA,
    n_generated: int = 100,
    class_shares: list[list[float]] | None = None,
    real_class_shares: list[float] | None = None,
    status: str = "finished",
    model: str = "vae",
    extra_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A results.json dict as `python -m bench` writes it, with the metric curves given (generation 0 first)."""
    curves = copy.deepcopy(DEFAULT_CURVES if curves is None else curves)
    n_gen = len(next(iter(curves.values())))
    real_class_shares = [0.1] * 10 if real_class_shares is None else real_class_shares
    loop_cfg: dict[str, Any] = {"generations": n_gen, "synthetic_size": 500, "warm_start": False, "name": loop}
    if real_fraction is not None:
        loop_cfg["real_fraction"] = real_fraction
    config: dict[str, Any] = {
        "trainer": {"max_epochs": 2, "enable_progress_bar": True, "num_threads": None},
        "data": {"name": dataset, "n_train": 500},
        "loop": loop_cfg,
        "metrics": {"n_samples": n_generated, "n_reference": 200},
        "model": {"name": model, "latent_dim": 16},
        "seed": seed,
        "run_dir": f"/somewhere/{loop}_{real_fraction}_{seed}",
        "cache_dir": "outputs/.cache",
    }
    config.update(extra_config or {})
    generations = []
    for t in range(n_gen):
        metrics: dict[str, Any] = {k: v[t] for k, v in curves.items()}
        metrics.update(n_gen=n_generated, n_real=200)
        if class_shares is not None:
            metrics["class_shares"] = class_shares[t]
        generations.append(
            {
                "generation": t,
                "counts": {"real": 500 if t == 0 else 0, "synthetic": 0 if t == 0 else 500, "total": 500},
                "seconds": {"train": 1.0, "sample": 0.1, "eval": 0.2},
                "healthy": True,
                "warnings": [],
                "metrics": metrics,
            }
        )
    return {
        "schema_version": 1,
        "bench_version": "0.1.0",
        "git_commit": None,
        "config": config,
        "dataset": {"name": dataset, "checksum": checksum, "image_shape": [1, 28, 28]},
        "feature_extractor": {"name": "mnist_classifier", "sha256": extractor_sha},
        "evaluation": {"n_generated": n_generated, "n_reference": 200, "real_class_shares": real_class_shares},
        "metric_info": {"fid": {"higher_is_better": False, "definition": "", "citation": ""}},
        "floor": {"fid": 5.0, "precision": 0.9, "recall": 0.9, "coverage": 0.8, "classes_covered": 10},
        "status": status,
        "generations": generations[: n_gen if status == "finished" else n_gen - 1],
    }


def write_run(root: Path, name: str, results: dict[str, Any]) -> Path:
    """`root/name/results.json`, as a run folder holds it."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    return folder


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("df", "expected"),
    # scipy.stats.t.ppf(0.975, df)
    [(1, 12.706204736174698), (2, 4.302652729911275), (4, 2.7764451051977987), (10, 2.2281388519649385),
     (30, 2.0422724563012373), (1000, 1.9623390808264078)],
)  # fmt: skip
def test_t_quantile_matches_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, rel=1e-9)
    assert t_quantile(0.025, df) == pytest.approx(-expected, rel=1e-9)


def test_estimate_of_1_2_3_is_2_plus_minus_t_times_s_over_sqrt_n():
    e = estimate([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)
    assert e.mean == 2.0 and e.n == 3
    assert e.low == pytest.approx(2 - half, rel=1e-9) and e.high == pytest.approx(2 + half, rel=1e-9)


def test_estimate_of_one_value_has_no_interval_and_nulls_are_left_out():
    assert estimate([5.0]).as_dict() == {"mean": 5.0, "ci_low": None, "ci_high": None, "n": 1}
    assert estimate([None, 4.0, None, 6.0]).n == 2
    assert estimate([None]).as_dict() == {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    same = estimate([3.0, 3.0, 3.0])
    assert same.low == same.high == 3.0


# ---------------------------------------------------------------- grouping and tracks


def test_seeds_group_and_their_metrics_average(tmp_path):
    for seed, fids in enumerate([[100.0, 110.0, 120.0], [100.0, 120.0, 140.0], [100.0, 130.0, 160.0]]):
        curves = {**DEFAULT_CURVES, "fid": fids}
        write_run(tmp_path, f"s{seed}", make_results(seed=seed, curves=curves, extra_config={"trainer": {
            "max_epochs": 2, "enable_progress_bar": seed == 1, "num_threads": seed}}))  # fmt: skip
    write_run(tmp_path, "other", make_results(seed=0, loop="real"))
    tracks = group_runs(load_runs([tmp_path]))
    assert len(tracks) == 1
    (groups,) = tracks.values()
    assert [g.label for g in groups] == ["vae real", "vae replace"]
    replace = groups[1]
    assert replace.seeds == [0, 1, 2]
    fid_last = replace.curves["fid"][2]
    assert fid_last.mean == 140.0 and fid_last.n == 3
    assert fid_last.half_width == pytest.approx(4.302652729911275 * 20.0 / math.sqrt(3), rel=1e-9)
    assert replace.curves["fid"][0].half_width == 0.0  # same gen-0 value in every seed: a zero-width interval
    assert replace.scores["fid.ratio"].mean == pytest.approx((1.2 + 1.4 + 1.6) / 3)
    assert replace.scores["fid.auc"].mean == pytest.approx(((105 + 115) + (110 + 130) + (115 + 145)) / 2 / 3)
    assert groups[0].scores["fid.auc"].low is None  # one seed: no interval


def test_tracks_split_on_data_extractor_sample_size_and_generations(tmp_path):
    write_run(tmp_path, "a", make_results())
    write_run(tmp_path, "b", make_results(checksum="d" * 64))
    write_run(tmp_path, "c", make_results(extractor_sha="f" * 64))
    write_run(tmp_path, "d", make_results(n_generated=50))
    write_run(tmp_path, "e", make_results(curves={k: v[:2] for k, v in DEFAULT_CURVES.items()}))
    tracks = group_runs(load_runs([tmp_path]))
    assert len(tracks) == 5
    assert all(len(groups) == 1 for groups in tracks.values())
    assert len({t.id for t in tracks}) == 5


def test_unfinished_runs_are_skipped_with_a_warning(tmp_path):
    write_run(tmp_path, "done", make_results())
    write_run(tmp_path, "busy", make_results(seed=1, status="running"))
    warnings: list[str] = []
    runs = load_runs([tmp_path], warn=warnings.append)
    assert [r.seed for r in runs] == [0]
    assert warnings == [f"{tmp_path / 'busy' / 'results.json'}: status running (2 of 3 generations), skipped"]


def test_a_run_given_twice_counts_once_and_a_different_run_of_its_config_and_seed_is_refused(tmp_path):
    folder = write_run(tmp_path, "a", make_results())
    assert len(find_results([folder, folder / "results.json", tmp_path])) == 1
    # a byte-identical copy elsewhere (an archived results.json, docs/runs beside outputs/) is the same run: once
    write_run(tmp_path / "archive", "a", make_results())
    assert len(load_runs([tmp_path])) == 1
    other = make_results()
    other["generations"][-1]["metrics"]["fid"] += 1.0
    write_run(tmp_path, "copy", other)
    with pytest.raises(InvalidResults, match=r"copy/results.json: config and seed 0 repeat .*a/results.json"):
        load_runs([tmp_path])


def test_a_sweep_folder_leads_to_the_runs_it_points_to(tmp_path):
    run = write_run(tmp_path / "outputs" / "mnist-vae-replace", "seed=0", make_results())
    sweep = tmp_path / "outputs" / "sweeps" / "2026-01-01_00-00-00"
    (sweep / "runs").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    (sweep / "runs" / "0.txt").write_text(f"{run.resolve()}\n")
    (sweep / "runs" / "1.txt").write_text(f"{tmp_path / 'gone'}\n")  # a job that wrote nothing: left out
    assert find_results([sweep]) == [run.resolve() / "results.json"]


def test_missing_paths_and_empty_folders_are_named(tmp_path):
    with pytest.raises(BenchError, match="no such file or folder"):
        find_results([tmp_path / "nope"])
    with pytest.raises(BenchError, match=r"no results\.json in this folder or below it"):
        find_results([tmp_path])


# ---------------------------------------------------------------- rejection, one line naming file and field


def _bad(tmp_path: Path, text: str) -> str:
    path = tmp_path / "other" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    with pytest.raises(InvalidResults) as e:
        load_results(path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def _without(doc: dict, *keys: Any) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for k in keys[:-1]:
        node = node[k]
    del node[keys[-1]]
    return doc


def test_malformed_files_are_rejected_in_one_line(tmp_path):
    good = json.dumps(make_results())
    assert _bad(tmp_path, good[:-10]).startswith("not JSON (")
    assert _bad(tmp_path, good.replace('"fid": 150.0', '"fid": NaN')) == (
        "generations[1].metrics.fid is NaN, which is not JSON (write null)"
    )
    assert _bad(tmp_path, good.replace('"fid": 200.0', '"fid": -Infinity')).startswith("generations[2].metrics.fid is")
    assert _bad(tmp_path, good.replace('"status": "finished"', '"status": "finished", "status": "x"')) == (
        "duplicate key 'status'"
    )
    assert _bad(tmp_path, "[1, 2]") == "(top level) is [1, 2], expected an object"


def test_incomplete_files_name_the_missing_field(tmp_path):
    doc = make_results()
    assert _bad(tmp_path, json.dumps(_without(doc, "generations", 2, "metrics", "fid"))) == (
        "generations[2].metrics.fid missing"
    )
    assert (
        _bad(tmp_path, json.dumps(_without(doc, "feature_extractor", "sha256"))) == "feature_extractor.sha256 missing"
    )
    assert _bad(tmp_path, json.dumps(_without(doc, "dataset"))) == "dataset missing"
    wrong = copy.deepcopy(doc)
    wrong["generations"][1]["metrics"]["recall"] = "high"
    assert _bad(tmp_path, json.dumps(wrong)) == 'generations[1].metrics.recall is "high", expected a number or null'
    wrong["generations"][1]["metrics"]["recall"] = 1.5
    assert _bad(tmp_path, json.dumps(wrong)) == "generations[1].metrics.recall is 1.5, above the maximum 1"
    wrong = copy.deepcopy(doc)
    wrong["feature_extractor"]["sha256"] = "abc"
    assert _bad(tmp_path, json.dumps(wrong)) == 'feature_extractor.sha256 is "abc", which does not match ^[0-9a-f]{64}$'


def test_mismatched_files_are_rejected(tmp_path):
    doc = make_results()
    n_classes = "generations[0].metrics.class_shares has 2 classes, evaluation.real_class_shares 10"
    cases = [
        (("generations", 2, "metrics", "n_gen"), 99,
         "generations[2].metrics.n_gen is 99, evaluation.n_generated is 100"),
        (("generations", 1, "generation"), 5, "generations[1].generation is 5, expected 1 (numbered from 0)"),
        (("config", "loop", "generations"), 4,
         "generations has 3 entries, config.loop.generations is 4 (status finished)"),
        (("config", "data", "name"), "cifar", "dataset.name is 'mnist', config.data.name is 'cifar'"),
        (("config", "loop", "name"), "replay", "config.loop.real_fraction missing (loop replay)"),
        (("metric_info", "fid", "higher_is_better"), True,
         "metric_info.fid.higher_is_better is true, METRIC_INFO says false"),
        (("generations", 0, "metrics", "class_shares"), [0.5, 0.5], n_classes),
    ]  # fmt: skip
    for keys, value, message in cases:
        wrong = copy.deepcopy(doc)
        node = wrong
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
        assert _bad(tmp_path, json.dumps(wrong)) == message


def test_extra_keys_are_welcome(tmp_path):
    doc = make_results()
    doc["environment"] = {"torch": "2.14.1", "dirty": True}
    doc["summary"] = {"anything": 1}
    doc["generations"][0]["metrics"]["new_metric"] = [1, 2]
    doc["future_block"] = {"x": None}
    path = write_run(tmp_path, "x", doc) / "results.json"
    assert load_results(path)["future_block"] == {"x": None}


def test_invalid_files_stop_the_load_unless_skipped(tmp_path):
    write_run(tmp_path, "good", make_results())
    bad = tmp_path / "bad" / "results.json"
    bad.parent.mkdir()
    bad.write_text("{")
    with pytest.raises(InvalidResults, match=r"bad/results\.json: not JSON"):
        load_runs([tmp_path])
    warnings: list[str] = []
    assert len(load_runs([tmp_path], skip_invalid=True, warn=warnings.append)) == 1
    assert len(warnings) == 1 and warnings[0].endswith("(skipped)")


def test_the_published_schema_is_valid_draft_2020_12_and_a_written_results_passes():
    jsonschema.Draft202012Validator.check_schema(results_schema())
    validate(make_results())
    jsonschema.validate(make_results(), results_schema())


def test_formats_are_checked(tmp_path):
    doc = make_results()
    doc["environment"] = {"date": "2026-12-05T08:40:47+00:00", "device": "cpu"}
    assert load_results(write_run(tmp_path, "dated", doc) / "results.json")
    for date in ("yesterday", "2026-12-05T08:40:47"):  # an RFC 3339 date-time has a time zone
        doc["environment"]["date"] = date
        assert _bad(tmp_path, json.dumps(doc)) == f'environment.date is "{date}", not a date-time'


def test_the_package_validates_with_jsonschema_not_a_home_made_subset():
    import bench.analysis.aggregate as aggregate

    assert not hasattr(aggregate, "SUPPORTED_KEYWORDS") and not hasattr(aggregate, "_resolve")
    with pytest.raises(ValueError, match=r"^generations\[2\]\.metrics\.fid missing$"):
        validate(_without(make_results(), "generations", 2, "metrics", "fid"))


def test_numbers_are_read_strictly(tmp_path):
    good = json.dumps(make_results())
    assert _bad(tmp_path, good.replace('"fid": 150.0', '"fid": 1e999')) == (
        "generations[1].metrics.fid is 1e999, which overflows a 64-bit float (write null)"
    )
    assert _bad(tmp_path, good.replace('"fid": 150.0', '"fid": -1E400')).startswith(
        "generations[1].metrics.fid is -1E400, which overflows"
    )
    seed = '"seed": 0'
    assert seed in good
    huge = "1" + "0" * 399
    message = _bad(tmp_path, good.replace(seed, f'"seed": {huge}'))
    assert message == "config.seed is 1000000000...0000 (400 characters), outside the integers allowed (|x| <= 2^63)"
    assert _bad(tmp_path, good.replace(seed, f'"seed": {2**63 + 1}')).startswith("config.seed is 9223372036854775809")
    assert _bad(tmp_path, good.replace(seed, '"seed": 1.5')) == "config.seed is 1.5, expected an integer"
    edge = write_run(tmp_path, "edge", json.loads(good.replace(seed, f'"seed": {2**63 - 1}')))
    assert load_results(edge / "results.json")["config"]["seed"] == 2**63 - 1
    assert _bad(tmp_path, good.replace(seed, f'"seed": {2**63}')) == (
        "config.seed is 9223372036854775808, above the maximum 9223372036854775807"
    )
    assert _bad(tmp_path, good.replace(seed, '"seed": -1')) == "config.seed is -1, below the minimum 0"
    # a huge integer anywhere, even where the schema says nothing, is refused: no reader meets it
    doc = make_results()
    doc["environment"] = {"x": 1}
    assert _bad(tmp_path, json.dumps(doc).replace('"x": 1', f'"x": -{huge}')).startswith("environment.x is -1000")


def test_one_strict_reader_for_every_json_file(tmp_path):
    from bench.io.strict_json import read_json, read_strict_json

    path = tmp_path / "record.json"
    for text, message in [
        ('{"a": NaN}', "a is NaN, which is not JSON"),
        ('{"a": [1, 1e999]}', "a[1] is 1e999, which overflows"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ("[" * 100_000, "nested too deeply"),
        ("{", "not JSON ("),
    ]:
        path.write_text(text)
        with pytest.raises(BenchError) as e:
            read_json(path)
        assert str(e.value).startswith(f"{path}: {message}") and "\n" not in str(e.value), str(e.value)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(BenchError, match="not UTF-8 text"):
        read_strict_json(path)
    path.write_text("[1]")
    with pytest.raises(BenchError, match="holds list, expected a JSON object"):
        read_json(path)
    assert read_json(tmp_path / "absent.json") is None


def test_no_module_parses_json_by_itself():
    """Every JSON file is read by bench.io.strict_json.read_strict_json (its hooks refuse NaN, 1e999, 10^400)."""
    src = Path(__file__).resolve().parents[1] / "src" / "bench"
    allowed = {src / "io" / "strict_json.py"}
    offenders = [
        str(f.relative_to(src))
        for f in src.rglob("*.py")
        if f not in allowed and ("json.load(" in f.read_text() or "json.loads(" in f.read_text())
    ]
    assert offenders == [] or set(offenders) <= KNOWN_OTHER_READERS, offenders


# readers in modules owned elsewhere that still call json.loads on their own (see docs/security.md); shrink, never grow
KNOWN_OTHER_READERS: set[str] = set()


def test_track_of_a_results_dict():
    track = Track.of(make_results())
    assert (track.dataset, track.n_generated, track.generations) == ("mnist", 100, 3)
    assert "mnist" in track.label() and "100 generated images" in track.label()
