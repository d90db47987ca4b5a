"""`python -m bench.evaluate --data mnist --samples PATH`: score anyone's images against the real test set.

PATH is a .npy or .npz array of uint8 images (N, H, W), (N, C, H, W) or (N, H, W, C), or a folder of
PNG files. The numbers are the same metrics, reference set and feature extractor as a bench run uses,
next to the floor (held-out real images scored the same way), so a reader knows what "perfect" is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError

IMAGE_SUFFIXES = (".png",)


def load_images(path: str | Path, image_shape: tuple[int, int, int], option: str = "--samples") -> torch.Tensor:
    """uint8 (N, C, H, W) from an array file or a folder of PNGs; anything else is a one-line BenchError naming
    `option` (the command-line flag or config key the path came from)."""
    path = Path(path)
    if path.is_dir() and (path / "samples.npy").is_file():  # a run folder's gen_XXX/: its samples, not its grid PNG
        path = path / "samples.npy"
    if not path.exists():
        raise BenchError(f"{option} {path} does not exist; give a .npy/.npz file or a folder of PNG images")
    if path.is_dir():
        array = _read_png_folder(path, option)
    elif path.suffix == ".npy":
        array = _load_array(path, lambda: np.load(path, allow_pickle=False), option)
    elif path.suffix == ".npz":
        array = _load_array(path, lambda: _first_array(np.load(path, allow_pickle=False), path, option), option)
    else:
        raise BenchError(f"{option} {path} has suffix {path.suffix!r}; allowed: .npy, .npz or a folder of .png files")
    return to_nchw(array, image_shape, f"{option} {path}")


def _load_array(path: Path, load, option: str) -> np.ndarray:
    try:
        return load()
    except BenchError:
        raise
    except Exception as e:  # pickled object arrays are refused here too (allow_pickle=False)
        raise BenchError(f"{option} {path} cannot be read as a numpy array ({type(e).__name__}: {e})") from None


def _first_array(npz, path: Path, option: str) -> np.ndarray:
    keys = list(npz.keys())
    for preferred in ("samples", "images", "x", "arr_0"):
        if preferred in keys:
            return npz[preferred]
    if len(keys) == 1:
        return npz[keys[0]]
    raise BenchError(f"{option} {path} holds arrays {keys}; name the images 'samples' or 'images', or store only one")


def _read_png_folder(folder: Path, option: str) -> np.ndarray:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BenchError(f"{option} {folder} holds no .png images")
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                images.append(np.asarray(im))
        except Exception as e:
            raise BenchError(f"image {f} cannot be read ({type(e).__name__})") from None
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise BenchError(f"{option} {folder} mixes image shapes {sorted(shapes)}; all images must have one shape")
    return np.stack(images)


def to_nchw(array: np.ndarray, image_shape: tuple[int, int, int], where: str) -> torch.Tensor:
    c, h, w = image_shape
    if array.dtype != np.uint8:
        raise BenchError(
            f"{where} has dtype {array.dtype}; images must be uint8 in 0..255 "
            "(convert with (x * 255).round().astype('uint8'))"
        )
    if array.ndim == 3 and c == 1 and array.shape[1:] == (h, w):
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1:] == (c, h, w):
        pass
    elif array.ndim == 4 and array.shape[1:] == (h, w, c):
        array = array.transpose(0, 3, 1, 2)
    else:
        allowed = f"(N, {h}, {w})" if c == 1 else ""
        allowed = " or ".join(x for x in (allowed, f"(N, {c}, {h}, {w})", f"(N, {h}, {w}, {c})") if x)
        raise BenchError(f"{where} has shape {tuple(array.shape)}; allowed: {allowed}")
    return torch.from_numpy(np.ascontiguousarray(array))


def evaluate(
    *,
    data: str,
    samples: str | Path,
    seed: int = 0,
    n_samples: int | None = None,
    bootstrap: int = 0,
    cache_dir: str | None = None,
    overrides: list[str] = (),
) -> dict:
    from hydra import compose, initialize_config_dir

    from bench.__main__ import CONF_DIR, check_group_choices
    from bench.data import build_data
    from bench.evaluation import Evaluator
    from bench.seeding import derive_seed, generator

    torch.set_flush_denormal(True)
    check_group_choices([f"data={data}"])
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"data={data}", f"seed={seed}", *overrides])
    dataset = build_data(cfg.data)
    images = load_images(samples, dataset.image_shape)
    n_given = len(images)
    kid_subset = int(cfg.metrics.kid_subset_size)
    if len(images) < kid_subset:
        raise BenchError(
            f"--samples holds {len(images)} images; at least metrics.kid_subset_size={kid_subset} are needed"
        )
    room = len(dataset.test_images) - int(
        cfg.metrics.n_reference
    )  # the floor set comes from test images outside the reference
    n = min(len(images), room) if n_samples is None else int(n_samples)
    if n > len(images):
        raise BenchError(f"--n-samples={n} exceeds the {len(images)} images given")
    if n < len(images):  # score a seeded random subset, never the first n (files are often sorted by class)
        images = images[torch.randperm(len(images), generator=generator(seed, "evaluate_subset"))[:n]]
    cfg.metrics.n_samples = n
    cfg.metrics.bootstrap = int(bootstrap)
    evaluator = Evaluator(dataset, cfg.metrics, cache_dir=cache_dir or cfg.cache_dir, data_cfg=cfg.data)
    return {
        "samples": str(samples),
        "n_given": n_given,
        "n_scored": n,
        "dataset": {"name": dataset.name, "checksum": dataset.checksum},
        "feature_extractor": evaluator.extractor_info,
        "skipped": evaluator.skipped,
        "metrics": evaluator.score_images(images, seed=derive_seed(seed, "eval", "standalone")),
        "floor": evaluator.floor(seed=derive_seed(seed, "floor")),
    }


def format_table(result: dict) -> str:
    from bench.metrics import METRIC_INFO

    rows = [f"{'metric':<22}{'samples':>12}{'floor':>12}  better"]
    for key, value in result["metrics"].items():
        if isinstance(value, (list, dict)) or key.endswith(("_ci_low", "_ci_high")):
            continue
        floor = result["floor"].get(key)
        better = {True: "higher", False: "lower"}.get(METRIC_INFO.get(key, {}).get("higher_is_better"), "")
        ci = ""
        if f"{key}_ci_low" in result["metrics"]:
            ci = f"  [{result['metrics'][f'{key}_ci_low']:.4g}, {result['metrics'][f'{key}_ci_high']:.4g}]"
        rows.append(f"{key:<22}{value:>12.4g}{floor if floor is None else format(floor, '>12.4g')}  {better}{ci}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="mnist", help="data set whose test set is the reference (default: mnist)")
    parser.add_argument("--samples", required=True, help=".npy/.npz array of uint8 images, or a folder of PNGs")
    parser.add_argument(
        "--out", help="where to write the metrics JSON (default: ./<samples name>.metrics.json, in this directory)"
    )
    parser.add_argument("--n-samples", type=int, help="score a seeded random subset of this many images")
    parser.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for 95%% confidence intervals")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. metrics.n_reference=8000")
    args = parser.parse_args(argv)
    try:
        result = evaluate(
            data=args.data,
            samples=args.samples,
            seed=args.seed,
            n_samples=args.n_samples,
            bootstrap=args.bootstrap,
            overrides=args.overrides,
        )
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from bench.report.atomic import write_json

    # by default in the current directory, never beside the samples: those often sit in a run folder, whose files
    # are the run's own record
    out = Path(args.out) if args.out else Path(f"{Path(args.samples).resolve().name}.metrics.json")
    write_json(out, result)
    print(format_table(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
