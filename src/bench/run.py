"""The generation loop: a pure function of the config (plus what an earlier, interrupted run left in its folder).

gen 0: D_0 = seeded real subset of size n        -> train M_0
gen t: D_t = loop.training_set(t, ...)           -> train M_t (from scratch or warm start)
every gen: S_t = sample(M_t), score S_t against held-out real test images; commit gen_XXX/.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

import bench
from bench.build import build
from bench.config import NOT_RESULT_KEYS
from bench.curation import Curator
from bench.errors import BenchError, Diverged
from bench.health import check_health_config, generation_zero_health, non_finite_diagnostics
from bench.loops import Loop, LoopContext
from bench.models.factory import build_model, sampling_settings
from bench.real_side import real_side
from bench.report.command_record import save_command_record
from bench.report.environment import environment
from bench.report.plots import plot_class_shares, plot_measures, plot_metrics
from bench.report.results import LEAD_METRICS, read_json, write_metrics_csv, write_results
from bench.report.run_folder import RunFolder
from bench.report.run_status import RunLock
from bench.seeding import derive_seed, generator
from bench.train import check_trainer, fit, quiet_lightning

log = logging.getLogger("bench")


def run(cfg: DictConfig) -> dict:
    """Run (or resume) the collapse run the config describes; returns its results.json as written."""
    torch.set_flush_denormal(True)  # denormals slowed CPU sampling tenfold at random
    if cfg.trainer.get("num_threads"):
        torch.set_num_threads(int(cfg.trainer.num_threads))
    quiet_lightning()
    # one process writes a run folder at a time; the lock also tells a live run from an interrupted one
    started = time.perf_counter()
    with RunLock(cfg.run_dir):
        results = _run(cfg)
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


def _run(cfg: DictConfig) -> dict:
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    folder = RunFolder(cfg.run_dir)
    results_path = folder.path / "results.json"
    previous = read_json(results_path)
    _check_same_config(previous, config, folder.path)
    # Hydra's record of the command, only now: a process refused by the lock or the config check changes nothing
    save_command_record(folder.path, cfg)
    if previous and previous["status"] == "finished" and len(folder.finished()) >= cfg.loop.generations:
        log.info(f"run folder {folder.path} holds a finished run; nothing to do")
        return previous

    # real data, the loop and the scoring, all validated before any training
    real = real_side(cfg)
    loop: Loop = build(cfg.loop)
    data, initial, initial_index, evaluator = real.data, real.initial, real.initial_index, real.evaluator
    n_train = len(initial)
    loop.check_sizes(n_initial=n_train, n_pool=len(real.pool))
    n_draw = max(loop.n_candidates, int(cfg.metrics.n_samples))
    check_trainer(cfg.trainer)
    check_health_config(cfg.health)
    sampling = sampling_settings(cfg)
    # a bad model config or sampling setting fails now, not after gen 0 trains (sample(0) checks the settings)
    build_model(cfg.model, **real.model_info).sample(0, generator=generator(cfg.seed, "probe"), **sampling)

    env = environment(str(cfg.trainer.accelerator))
    header: dict[str, Any] = {
        "bench_version": bench.__version__,
        "git_commit": env["git_commit"],
        "environment": env,
        "config": config,
        "dataset": {
            "name": data.name,
            "source": data.source,
            "checksum": data.checksum,
            "image_shape": list(data.image_shape),
            "n_train_pool": len(data.train_images),
            "n_test": len(data.test_images),
            "n_initial": n_train,
            # the share of the train pool replaced by an earlier generator's images, and which generator (null: none)
            "contamination": real.contamination,
        },
        "feature_extractor": evaluator.extractor_info,
        "evaluation": {
            "n_generated": int(cfg.metrics.n_samples),
            "n_reference": len(evaluator.split.reference),
            "sampling": sampling,
            "real_class_shares": evaluator.real_class_shares,
            # metrics left out, and why (a folder without classes has no mode metrics)
            "skipped": evaluator.skipped,
            # what the data set's own measurements want drawn (tails: minority share, hue histogram)
            "plots": evaluator.plots,
        },
        "metric_info": evaluator.metric_info,
        "floor": evaluator.floor(seed=derive_seed(cfg.seed, "floor")),
    }
    _check_same_pool(previous, real.contamination, folder.path)
    folder.clear_partial()
    done = folder.finished()
    records = [folder.load_record(t) for t in done]
    write_results(results_path, header, records, status="finished" if len(done) >= loop.generations else "running")
    if done:
        _write_views(folder.path, header, records, cfg)  # an interruption may have left them a generation behind
        log.info(f"resuming {folder.path} after generation {done[-1]}")
    # loop.curation: later generations train on the best-scoring share of each S_s (bench.curation)
    curator = Curator(loop, real, cfg) if loop.curation else None
    ctx = LoopContext(
        seed=int(cfg.seed),
        initial=initial,
        real_pool=real.pool,
        initial_index=initial_index,
        synthetic=curator.wrap(folder.load_samples) if curator else folder.load_samples,
    )

    try:
        for t in range(len(done), loop.generations):
            if curator:
                curator.start_generation()
            train_set = loop.training_set(t, ctx)
            # weights are initialised from a seed of their own, not from whatever the global RNG went through before
            torch.manual_seed(derive_seed(cfg.seed, "init", t))
            model = build_model(cfg.model, **real.model_info)
            if loop.warm_start and t > 0:
                model.load_state_dict(folder.load_state_dict(t - 1))
            labels = evaluator.training_labels(model, train_set.images)

            log_dir = folder.path / "logs"
            shutil.rmtree(log_dir / f"gen_{t:03d}", ignore_errors=True)  # curves of an interrupted try at generation t
            start = time.perf_counter()
            try:  # a NaN in training or sampling stops here: nothing of generation t is committed, earlier ones stay
                device = fit(
                    model,
                    train_set.images,
                    labels=labels,
                    trainer_cfg=cfg.trainer,
                    seed=derive_seed(cfg.seed, "train", t),
                    log_dir=log_dir,
                    log_name=f"gen_{t:03d}",
                )
                train_s = time.perf_counter() - start
                diagnostics = model.diagnostics(train_set.images)

                start = time.perf_counter()
                samples = model.sample(n_draw, generator=generator(cfg.seed, "sample", t), **sampling)
                sample_s = time.perf_counter() - start
            except Diverged as e:
                raise BenchError(
                    f"generation {t} diverged {e}; try a smaller model.lr (or trainer.gradient_clip_val)"
                ) from None

            start = time.perf_counter()
            metrics = evaluator.score_images(
                samples[: int(cfg.metrics.n_samples)], seed=derive_seed(cfg.seed, "eval", t)
            )
            eval_s = time.perf_counter() - start
            warnings = list(diagnostics.get("warnings", [])) + non_finite_diagnostics(diagnostics)
            if t == 0:
                warnings += generation_zero_health(
                    metrics, header["floor"], n_classes=evaluator.num_classes or 0, health=cfg.health
                )

            record: dict[str, Any] = {
                "generation": t,
                # the feature space that scored this row: rows from different feature spaces are never compared
                "extractor": f"{evaluator.extractor.name}:{evaluator.extractor.sha256[:12]}",
                "counts": {
                    "real": train_set.n_real,
                    "synthetic": train_set.n_synthetic,
                    "total": len(train_set.images),
                    "sampled": n_draw,
                },
                "training_set": train_set.sources,
                # what curation kept of each synthetic set this generation trained on (null: no curation)
                "curation": curator.report() if curator else None,
                "warm_start": loop.warm_start and t > 0,
                "device": str(device),
                # not a result key (it names no folder and may change on resume), but it changes float sums in
                # training: recorded per generation so a resumed run with another thread count shows where
                "torch_threads": torch.get_num_threads(),
                "seconds": {"train": train_s, "sample": sample_s, "eval": eval_s},
                "sampling": sampling,
                "diagnostics": {k: v for k, v in diagnostics.items() if k != "warnings"},
                "healthy": not warnings,
                "warnings": warnings,
                "metrics": metrics,
            }
            state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            folder.commit_generation(t, record=record, state_dict=state_dict, samples=samples, export=_exporter(model))
            records.append(folder.load_record(t))  # as written: non-finite numbers are null on disk and here alike
            write_results(results_path, header, records, status="finished" if t + 1 == loop.generations else "running")
            _write_views(folder.path, header, records, cfg)
            log.info(
                _summary(record, loop.generations, extra=[k for k, _ in header["evaluation"]["plots"].get("lines", [])])
            )
            for w in record["warnings"]:
                log.warning(f"gen {t}: {w}")
    except BaseException:  # an error or Ctrl-C: say so in the file (a kill -9 is told by the lock, run_status.py)
        write_results(results_path, header, records, status="interrupted")
        raise

    out = read_json(results_path)
    assert out is not None
    return out


def _exporter(model) -> Callable[[Path], None] | None:
    """A model's own format beside the loop's checkpoint (a DDPM: diffusers' save_pretrained, in gen_XXX/diffusers/)."""
    save_pretrained = getattr(model, "save_pretrained", None)
    if save_pretrained is None:
        return None

    def export(tmp: Path) -> None:
        save_pretrained(tmp / "diffusers")

    return export


def _write_views(path: Path, header: dict, records: list[dict], cfg) -> None:
    title = f"{cfg.data.name} / {cfg.model.name} / loop={cfg.loop.name} / seed={cfg.seed}"
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


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, f"{key}.") if isinstance(v, dict) else {key: v})
    return out


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
    old, new = _flatten(previous["config"]), _flatten(config)
    diff = sorted(k for k in old.keys() | new.keys() if k not in NOT_RESULT_KEYS and old.get(k) != new.get(k))
    if diff:
        k = diff[0]
        raise BenchError(
            f"run folder {path} holds a run with another config ({k}={old.get(k)!r}, now {new.get(k)!r}"
            f"{f' and {len(diff) - 1} more' if len(diff) > 1 else ''}); "
            "use the same overrides to resume, or another run_dir"
        )
