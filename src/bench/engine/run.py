"""The generation loop: a pure function of the config (plus what an earlier, interrupted run left in its folder).

gen 0: D_0 = seeded real subset of size n        -> train M_0
gen t: D_t = loop.training_set(t, ...)           -> train M_t (from scratch or warm start)
every gen: S_t = sample(M_t), score S_t against held-out real test images; commit gen_XXX/.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from bench import protocol
from bench.config import NOT_RESULT_KEYS, as_before, flatten
from bench.engine.generation import exporter, run_generation
from bench.engine.setup import Plan, prepare, results_header
from bench.engine.train import quiet_lightning
from bench.errors import BenchError, check_seed
from bench.io.strict_json import read_json
from bench.loops import LoopContext
from bench.metric_info import LEAD_METRICS
from bench.report.command_record import save_command_record
from bench.report.plots import plot_class_shares, plot_measures, plot_metrics
from bench.report.results import write_metrics_csv, write_results
from bench.report.run_folder import RunFolder
from bench.report.run_status import RunLock

log = logging.getLogger("bench")


def run(cfg: DictConfig) -> dict:
    """Run (or resume) the collapse run the config describes; returns its results.json as written."""
    check_seed("seed", cfg.seed)  # before the run folder is touched
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    protocol.check(config)  # a protocol's fixed keys kept: also before the folder is touched
    torch.set_flush_denormal(True)  # denormals slowed CPU sampling tenfold at random
    if cfg.trainer.get("num_threads"):
        torch.set_num_threads(int(cfg.trainer.num_threads))
    quiet_lightning()
    # one process writes a run folder at a time; the lock also tells a live run from an interrupted one
    started = time.perf_counter()
    with RunLock(cfg.run_dir):
        results = _run(cfg, config)
    family = f"{cfg.data.name}-{cfg.model.name}-{cfg.loop.name}"
    log.info(where_to_look(Path(cfg.run_dir), results, family=family, seconds=time.perf_counter() - started))
    return results


def where_to_look(path: Path, results: dict, *, family: str, seconds: float) -> str:
    """The run's last console lines: how long it took, and the files and command a user opens next."""
    path = path.resolve()  # run_dir=run: say where that is
    done = len(results.get("generations", []))
    views = [name for name in ("metrics.png", "class_shares.png") if (path / name).is_file()]
    if done:
        views.append(f"gen_{done - 1:03d}/samples.png")
    minutes, secs = divmod(round(seconds), 60)
    return "\n".join(
        [
            f"{results.get('status', 'finished')}: {done} generation(s) in {minutes}m {secs:02d}s; run folder {path}",
            f"  look at: {', '.join(views)} (metrics.csv and results.json hold the numbers)",
            f"  compare runs: python -m bench.leaderboard {compare_dir(path, family)}",
        ]
    )


def compare_dir(path: Path, family: str) -> Path:
    """The folder to rank this run among others: the outputs (or sweep) folder above <data>-<model>-<loop>/<run>/
    in the standard layout (`family`: that middle name), else the run folder itself (never a parent folder the user
    did not choose, such as /tmp)."""
    return path.parent.parent if path.parent.name == family else path


def _run(cfg: DictConfig, config: dict) -> dict:
    """The loop's steps: open the folder (resume checks), prepare, write the header, then one generation at a time.
    `config`: cfg resolved, as results.json records it."""
    folder = RunFolder(cfg.run_dir)
    previous = read_json(folder.path / "results.json")
    _check_same_config(previous, config, folder.path)
    if previous and previous["status"] == "finished" and len(folder.finished()) >= cfg.loop.generations:
        log.info(f"run folder {folder.path} holds a finished run; nothing to do")
        return previous
    # Hydra's record of the command, only now: a process refused by the lock or the config check, or one that finds
    # the run finished, changes nothing
    save_command_record(folder.path, cfg)

    plan = prepare(cfg)  # real data, the loop and the scoring, all validated before any training
    header = results_header(plan, config, str(cfg.trainer.accelerator))
    _say_precision(cfg, header["environment"])
    extractor = header["feature_extractor"]
    protocol.check_assets(config, header["dataset"]["checksum"], extractor["name"], extractor["sha256"])
    _check_same_pool(previous, plan.real.contamination, folder.path)
    records = _resume(folder, header, plan)
    plan.start_curation()
    _loop(plan, folder, header, records)
    out = read_json(folder.path / "results.json")
    assert out is not None
    return out


def _say_precision(cfg: DictConfig, env: dict) -> None:
    """`precision: auto` takes bf16 or fp32 by the machine (bench.models.precision): say which, since the numbers
    of one config differ between the two."""
    sampling = cfg.get("sampling") or {}
    autos = [
        name for name, node in (("trainer", cfg.trainer), ("sampling", sampling)) if node.get("precision") == "auto"
    ]
    if autos:
        how = "bf16 (native here)" if env["bf16_native"] else f"fp32 ({env['device']} has no native bf16)"
        log.info(f"precision auto for {' and '.join(autos)}: {how}")


def _resume(folder: RunFolder, header: dict, plan: Plan) -> list[dict]:
    """The records of the generations an earlier try committed (a partial one is cleared); results.json and the
    views rewritten from them (an interruption may have left them a generation behind)."""
    folder.clear_partial()
    done = folder.finished()
    records = [folder.load_record(t) for t in done]
    status = "finished" if len(done) >= plan.loop.generations else "running"
    write_results(folder.path / "results.json", header, records, status=status)
    if done:
        _write_views(folder.path, header, records, plan.title)
        log.info(f"resuming {folder.path} after generation {done[-1]}")
    return records


def _loop(plan: Plan, folder: RunFolder, header: dict, records: list[dict]) -> None:
    """Generations len(records).. to the last, each committed whole (bench.report.run_folder) before the next."""
    results_path = folder.path / "results.json"
    real, curator = plan.real, plan.curator
    ctx = LoopContext(
        seed=plan.seed,
        initial=real.initial,
        real_pool=real.pool,
        initial_index=real.initial_index,
        synthetic=curator.wrap(folder.load_samples) if curator else folder.load_samples,
    )
    generations = plan.loop.generations
    extra = [k for k, _ in header["evaluation"]["plots"].get("lines", [])]
    try:
        for t in range(len(records), generations):
            gen = run_generation(t, plan, ctx, folder, header["floor"])
            state_dict = {k: v.detach().cpu() for k, v in gen.model.state_dict().items()}
            folder.commit_generation(
                t, record=gen.record, state_dict=state_dict, samples=gen.samples, export=exporter(gen.model)
            )
            records.append(folder.load_record(t))  # as written: non-finite numbers are null on disk and here alike
            write_results(results_path, header, records, status="finished" if t + 1 == generations else "running")
            _write_views(folder.path, header, records, plan.title)
            log.info(_summary(gen.record, generations, extra=extra))
            for w in gen.record["warnings"]:
                log.warning(f"gen {t}: {w}")
    except BaseException:  # an error or Ctrl-C: say so in the file (a kill -9 is told by the lock, run_status.py)
        write_results(results_path, header, records, status="interrupted")
        raise


def _write_views(path: Path, header: dict, records: list[dict], title: str) -> None:
    write_metrics_csv(path / "metrics.csv", records)
    plot_metrics(path / "metrics.png", records, header["floor"], title=title)
    real_shares = header["evaluation"]["real_class_shares"]
    if real_shares is not None:
        plot_class_shares(path / "class_shares.png", records, real_shares, title=title, floor=header["floor"])
    spec = header["evaluation"].get("plots") or {}
    if spec.get("file"):
        plot_measures(path / spec["file"], records, header["floor"], spec, title=title)


def _summary(record: dict, generations: int, *, extra: Sequence[str] = ()) -> str:
    """One console line; `extra`: the data set's own scalar measurements (tails: minority_share)."""
    m, c, s = record["metrics"], record["counts"], record["seconds"]
    shown = " ".join(f"{k}={m[k]:.3g}" for k in [*LEAD_METRICS, *extra] if isinstance(m.get(k), (int, float)))
    # the model's own health numbers, whatever the model (the VAE's latent KL, the DDPM's denoising MSE, ...)
    diag = " ".join(f"{k}={v:.3g}" for k, v in record["diagnostics"].items() if isinstance(v, float))
    flag = "" if record["healthy"] else " UNHEALTHY (see warnings)"
    return (
        f"gen {record['generation']}/{generations - 1}: real={c['real']} synth={c['synthetic']} | {shown} | "
        f"{diag} | train {s['train']:.0f}s sample {s['sample']:.1f}s eval {s['eval']:.1f}s{flag}"
    )


def _check_same_pool(previous: dict | None, contamination: dict | None, path: Path) -> None:
    """A resumed run must train on the pool its earlier generations trained on: the same contaminating images."""
    if not previous:
        return
    old = (previous.get("dataset", {}).get("contamination") or {}).get("sha256")
    new = (contamination or {}).get("sha256")
    if old != new:
        raise BenchError(
            f"run folder {path} was trained on a pool contaminated by images with sha256 {str(old)[:12]}, now "
            f"{str(new)[:12]} (data.contamination_source changed, or the cached earlier generator was rebuilt "
            "differently); use another run_dir"
        )


def _check_same_config(previous: dict | None, config: dict, path: Path) -> None:
    if not previous:
        return
    old, new = flatten(previous["config"]), flatten(config)
    # a key added since the folder was written, at the value that computes what the folder's run computed, is no change
    diff = sorted(
        k
        for k in old.keys() | new.keys()
        if k not in NOT_RESULT_KEYS and old.get(k) != new.get(k) and not (k not in old and as_before(k, new[k]))
    )
    if diff:
        k = diff[0]
        raise BenchError(
            f"run folder {path} holds a run with another config ({k}={old.get(k)!r}, now {new.get(k)!r}"
            f"{f' and {len(diff) - 1} more' if len(diff) > 1 else ''}); "
            "use the same overrides to resume, or another run_dir"
        )
