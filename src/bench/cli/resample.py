"""`python -m bench.resample RUN_DIR generation=T [sampling.KEY=VALUE ...] [device=cuda]`

Draw a saved generation's samples again with other sampling settings (more DDIM steps, guidance, a
latent temperature, ...) and score them exactly as the run did: same real reference, same floor, same
sampling seed (so unchanged settings reproduce the original samples). No retraining. The result goes
next to the original, never over it: RUN_DIR/gen_XXX/resampled/<settings>/ holds samples.npy,
samples.png and record.json (the settings, metrics and seconds), written whole or not at all.

A run folder may come from anyone: results.json is read through the leaderboard's validated loader
(bench.analysis.aggregate.load_results), and the stored config rebuilds only the benchmark's own classes (the
`_target_`s its config registry names). A run of your own model class resamples with `--allow-target
mypkg.Model`: name only code you trust, since building it runs it (see docs/security.md).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.analysis.aggregate import load_results
from bench.build import check_config_targets, only_registered_targets
from bench.cli import arguments
from bench.engine.real_side import RealSide, real_side
from bench.engine.training_set import rebuilt_training_set
from bench.errors import BenchError
from bench.io.strict_json import read_json
from bench.models.factory import build_model, sampling_settings
from bench.report.run_folder import RunFolder, commit_folder
from bench.seeding import derive_seed, generator

log = logging.getLogger("bench.cli.resample")


def parse_overrides(overrides: list[str]) -> tuple[int, dict, str | None]:
    """generation=T, sampling.KEY=VALUE (YAML-typed values), device=...; anything else is refused in one line."""
    generation, sampling, device = None, {}, None
    for arg in overrides:
        key, sep, value = arg.partition("=")
        if not sep:
            raise BenchError(f"argument {arg!r} is not KEY=VALUE; allowed: generation=T, sampling.KEY=VALUE, device=D")
        if key == "generation":
            if not (value.isascii() and value.isdigit() and len(value) <= 9):
                raise BenchError(f"generation={value!r} must be a generation number (0, 1, ...)")
            generation = int(value)
        elif key.startswith("sampling.") and key.count(".") == 1:
            sampling[key.removeprefix("sampling.")] = _yaml_value(value)
        elif key == "device":
            device = check_device(value)
        else:
            raise BenchError(f"{key!r} cannot be changed by resampling; allowed: generation, sampling.KEY, device")
    if generation is None:
        raise BenchError("which generation? add generation=T")
    return generation, sampling, device


def check_device(value: str) -> str:
    """A device torch accepts and this machine has: `cpu`, `cuda`, `cuda:1`, `mps`; anything else in one line."""
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise BenchError(f"device={value!r} is not a torch device; allowed: cpu, cuda, cuda:N, mps") from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(device.type, False):
        raise BenchError(f"device={value!r} is not available on this machine; cpu is")
    return value


# the parts of a stored config resampling rebuilds; a results.json without them is not a run to resample
_NEEDED = {"model": True, "data": True, "metrics": False}  # node -> built from its own _target_


def _stored_config(path: Path, results: dict, allow: Sequence[str]) -> DictConfig:
    """The run's config as data: every `_target_` checked before anything is imported, the nodes resampling needs
    present, the cache folder this machine's own (a stored path is not written to), and no folder of code (a
    stored metrics.extractor_hub_dir: DINOv2's hubconf.py comes from torch hub's own cache here)."""
    config = results["config"]
    try:
        check_config_targets(config, allow)
    except BenchError as e:
        raise BenchError(f"{path}: {e}") from None
    for key, needs_target in _NEEDED.items():
        node = config.get(key)
        if not isinstance(node, dict) or (needs_target and "_target_" not in node):
            raise BenchError(f"{path}: config.{key} missing or not a config node; resampling rebuilds it")
    n = config["metrics"].get("n_samples")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BenchError(f"{path}: config.metrics.n_samples is {n!r}, expected a positive integer")
    try:
        cfg = OmegaConf.create(config)
        cfg.cache_dir = os.environ.get("BENCH_CACHE_DIR", "outputs/.cache")
        if cfg.metrics.get("extractor_hub_dir") is not None:
            # torch.hub.load runs that folder's hubconf.py: code, which a stored config may not choose
            log.info(f"config.metrics.extractor_hub_dir {cfg.metrics.extractor_hub_dir} ignored: torch hub's own cache")
            cfg.metrics.extractor_hub_dir = None
        OmegaConf.resolve(cfg)  # interpolations fail here, in one line, rather than deep inside a build
    except Exception as e:  # omegaconf's errors on a malformed stored config: data, reported in one line
        raise BenchError(f"{path}: config cannot be read back ({_first_line(e)})") from None
    return cfg


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def _yaml_value(text: str):
    """`50` -> 50, `0.5` -> 0.5, `ddpm` -> 'ddpm', `null` -> None: the same typing as a Hydra override."""
    try:
        return yaml.safe_load(text)
    except Exception:
        return text


def settings_name(changed: dict) -> str:
    """The folder name of a resampling: the changed settings, sorted (`steps=50,eta=0.5`), or `as_run`."""
    return ",".join(f"{k}={v}" for k, v in sorted(changed.items())) or "as_run"


def resample(
    run_dir: str | Path,
    generation: int,
    changed: dict,
    *,
    device: str | None = None,
    real: RealSide | None = None,
    allow_targets: Sequence[str] = (),
) -> dict:
    """`real`: the run's real side, when a caller resamples many settings (rebuilt from the config otherwise).
    `allow_targets`: `_target_`s outside the benchmark's registry that the stored config may build (trusted code)."""
    path = Path(run_dir)
    if not (path / "results.json").is_file():
        raise BenchError(f"{path} holds no results.json: not a run folder")
    results = load_results(path / "results.json")  # strict JSON, the published schema, consistency
    cfg = _stored_config(path / "results.json", results, allow_targets)
    folder = RunFolder(path)
    if generation not in folder.finished():
        raise BenchError(f"generation {generation} of {folder.path} is not finished; finished: {folder.finished()}")
    run_record = read_json(folder.gen_dir(generation) / "record.json")
    if run_record is None or not isinstance(run_record.get("metrics"), dict):
        raise BenchError(f"{folder.gen_dir(generation) / 'record.json'}: no metrics object")
    out = folder.gen_dir(generation) / "resampled" / settings_name(changed)
    if (out / "record.json").is_file():
        log.info(f"{out} exists: nothing to do")
        return read_json(out / "record.json") or {}

    with only_registered_targets(allow_targets):
        try:
            sampling = {**sampling_settings(cfg), **changed}
            real = real or real_side(cfg)
            model = build_model(cfg.model, **real.model_info)
            model.sample(0, generator=torch.Generator(), **sampling)  # bad settings fail before anything is loaded
            model.load_state_dict(folder.load_state_dict(generation))
            # scored against its own training set too when the run was (a folder from before: not, so the two agree)
            own = "memorized_share_dt" in run_record["metrics"]
            training_images = rebuilt_training_set(cfg, real, folder, generation) if own else None
        except BenchError:
            raise
        except (
            TypeError,
            ValueError,
            KeyError,
            AttributeError,
            RuntimeError,
            AssertionError,
            OmegaConfBaseException,
        ) as e:
            # a stored config is data: one that does not rebuild the run's model is refused, not a traceback
            raise BenchError(f"{path}: the run cannot be rebuilt from its config ({_first_line(e)})") from None
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    n = int(cfg.metrics.n_samples)
    start = time.perf_counter()
    # the run's own sampling stream: unchanged settings give the run's samples back
    samples = model.sample(n, generator=generator(cfg.seed, "sample", generation), **sampling)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    metrics = real.evaluator.score_images(
        samples, seed=derive_seed(cfg.seed, "eval", generation), training_images=training_images
    )
    eval_s = time.perf_counter() - start
    record = {
        "generation": generation,
        "sampling": sampling,
        "changed": changed,
        "device": str(model.device),
        "seconds": {"sample": sample_s, "eval": eval_s},
        "metrics": metrics,
        "run_metrics": run_record["metrics"],
    }
    commit_folder(out, record=record, samples=samples)  # whole or not at all, like a generation
    return read_json(out / "record.json") or {}


@arguments.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = arguments.Parser(prog="python -m bench.resample", description=__doc__.split("\n\n")[1])
    parser.add_argument("run_dir", help="a run folder written by python -m bench")
    parser.add_argument("overrides", nargs="*", help="generation=T, sampling.KEY=VALUE ..., device=cpu|cuda")
    parser.add_argument(
        "--allow-target",
        action="append",
        default=[],
        metavar="MODULE.NAME",
        help="a _target_ outside the benchmark's own that the run's config may build (your own model class); "
        "building it runs its code, so name only code you trust (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_flush_denormal(True)  # denormals slowed CPU sampling tenfold at random
    try:
        generation, changed, device = parse_overrides(args.overrides)
        record = resample(args.run_dir, generation, changed, device=device, allow_targets=args.allow_target)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m, r = record["metrics"], record["run_metrics"]
    for key in ("fid", "recall", "coverage", "classes_covered"):
        print(f"{key:>16}: {m.get(key)!s:>22}  (as run: {r.get(key)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
