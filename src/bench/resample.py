"""`python -m bench.resample RUN_DIR generation=T [sampling.KEY=VALUE ...] [device=cuda]`

Draw a saved generation's samples again with other sampling settings (more DDIM steps, guidance, a
latent temperature, ...) and score them exactly as the run did: same real reference, same floor, same
sampling seed (so unchanged settings reproduce the original samples). No retraining. The result goes
next to the original, never over it: RUN_DIR/gen_XXX/resampled/<settings>/ holds samples.npy,
samples.png and record.json (the settings, metrics and seconds), written whole or not at all.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch
import yaml
from omegaconf import OmegaConf

from bench.errors import BenchError
from bench.models.factory import build_model, sampling_settings
from bench.real_side import RealSide, real_side
from bench.report.results import read_json
from bench.report.run_folder import RunFolder, commit_folder
from bench.seeding import derive_seed, generator

log = logging.getLogger("bench.resample")


def parse_overrides(overrides: list[str]) -> tuple[int, dict, str | None]:
    """generation=T, sampling.KEY=VALUE (YAML-typed values), device=...; anything else is refused in one line."""
    generation, sampling, device = None, {}, None
    for arg in overrides:
        key, sep, value = arg.partition("=")
        if not sep:
            raise BenchError(f"argument {arg!r} is not KEY=VALUE; allowed: generation=T, sampling.KEY=VALUE, device=D")
        if key == "generation":
            if not value.isdigit():
                raise BenchError(f"generation={value!r} must be a generation number (0, 1, ...)")
            generation = int(value)
        elif key.startswith("sampling.") and key.count(".") == 1:
            sampling[key.removeprefix("sampling.")] = _yaml_value(value)
        elif key == "device":
            device = value
        else:
            raise BenchError(f"{key!r} cannot be changed by resampling; allowed: generation, sampling.KEY, device")
    if generation is None:
        raise BenchError("which generation? add generation=T")
    return generation, sampling, device


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
    run_dir: str | Path, generation: int, changed: dict, *, device: str | None = None, real: RealSide | None = None
) -> dict:
    """`real`: the run's real side, when a caller resamples many settings (rebuilt from the config otherwise)."""
    folder = RunFolder(run_dir)
    results = read_json(folder.path / "results.json")
    if results is None:
        raise BenchError(f"{folder.path} holds no results.json: not a run folder")
    if generation not in folder.finished():
        raise BenchError(f"generation {generation} of {folder.path} is not finished; finished: {folder.finished()}")
    cfg = OmegaConf.create(results["config"])
    sampling = {**sampling_settings(cfg), **changed}
    out = folder.gen_dir(generation) / "resampled" / settings_name(changed)
    if (out / "record.json").is_file():
        log.info(f"{out} exists: nothing to do")
        return read_json(out / "record.json")

    real = real or real_side(cfg)
    model = build_model(cfg.model, **real.model_info)
    model.sample(0, generator=torch.Generator(), **sampling)  # bad settings fail before anything is loaded
    model.load_state_dict(folder.load_state_dict(generation))
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    n = int(cfg.metrics.n_samples)
    start = time.perf_counter()
    # the run's own sampling stream: unchanged settings give the run's samples back
    samples = model.sample(n, generator=generator(cfg.seed, "sample", generation), **sampling)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    metrics = real.evaluator.score_images(samples, seed=derive_seed(cfg.seed, "eval", generation))
    eval_s = time.perf_counter() - start
    record = {
        "generation": generation,
        "sampling": sampling,
        "changed": changed,
        "device": str(model.device),
        "seconds": {"sample": sample_s, "eval": eval_s},
        "metrics": metrics,
        "run_metrics": folder.load_record(generation)["metrics"],
    }
    commit_folder(out, record=record, samples=samples)  # whole or not at all, like a generation
    return read_json(out / "record.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resample", description=__doc__.split("\n\n")[1])
    parser.add_argument("run_dir", help="a run folder written by python -m bench")
    parser.add_argument("overrides", nargs="*", help="generation=T, sampling.KEY=VALUE ..., device=cpu|cuda")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_flush_denormal(True)  # denormals slowed CPU sampling tenfold at random
    try:
        generation, changed, device = parse_overrides(args.overrides)
        record = resample(args.run_dir, generation, changed, device=device)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m, r = record["metrics"], record["run_metrics"]
    for key in ("fid", "recall", "coverage", "classes_covered"):
        print(f"{key:>16}: {m.get(key)!s:>22}  (as run: {r.get(key)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
