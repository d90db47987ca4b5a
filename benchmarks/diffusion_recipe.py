"""The diffusion recipe study: generation 0 of each setting in a grid, scored, against its training compute.

    python benchmarks/diffusion_recipe.py [--grid NAME ...] [--seeds 0 1 2] [--out DIR] [--table FILE.md]

Each grid point is one real `python -m bench ... loop.generations=1` run (the same code path, data, sampling and
scoring as any run: D_0 = 4,000 MNIST images, 4,000 samples of which 2,000 are scored against 5,000 held-out test
images in the shipped classifier's feature space). Its results.json gives FID, recall, coverage, classes covered and
the seconds of training, sampling and scoring. A finished point is read, not re-run (an unfinished one resumes), so the
study can be stopped and continued, and extended by a grid of its own.

The table (markdown) is written to --table with the command that made it (with --section NAME, into that section of
a document: docs/diffusion_recipe.md is made this way); with several seeds a point's row holds the mean and the 95%
t-interval half-width. Not a test: seconds depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

from scipy import stats

from bench.models.precision import native_bf16

# name -> overrides. Each grid asks one question; the presets in conf/ are the winners. docs/diffusion_recipe.md
# says which grids were run on which machine (the "ablations" grid is listed for a longer session or a faster CPU).
# model=ldm as first shipped: its settings since changed in conf/model/ldm.yaml, so its rows spell them out
FIRST_LDM = ["model=ldm", "model.channels=[64,128]", "model.lr_schedule=constant"]
GRIDS: dict[str, dict[str, list[str]]] = {
    # the old preset, as shipped before this study: the baseline every row is read against
    "baseline": {
        "ddpm_cpu (old preset)": ["model=ddpm", "experiment=ddpm_cpu"],
    },
    # pixel-space flow matching at the DDPM's training compute (1,000 steps x 128)
    "flow": {
        "flow (preset, 1000 steps)": ["model=flow"],
    },
    # latent flow, the first preset (64/128 UNet, constant learning rate) and half its flow training
    "ldm": {
        "ldm flow 700 steps": [*FIRST_LDM, "trainer.max_steps=700"],
        "ldm 64/128, 1400 steps (first preset)": [*FIRST_LDM, "trainer.max_steps=1400"],
    },
    # the first preset alone: its seed interval, and the same seed at another thread count
    "ldm_preset": {
        "ldm 64/128, 1400 steps (first preset)": [*FIRST_LDM, "trainer.max_steps=1400"],
    },
    # the DDPM given the pixel flow's training seconds (its steps cost 0.75 s against the flow's 1.2 s at 1 thread)
    "ddpm_time": {
        "ddpm_cpu at the flow's seconds (1600 steps)": ["model=ddpm", "experiment=ddpm_cpu", "trainer.max_steps=1600"],
    },
    # the preset since 2026-12 (conf/model/ldm.yaml), spelt out: a quarter of the first preset's UNet (0.65M
    # parameters), twice its steps, and the learning rate decayed to 0 (cosine) so that where training stops
    # depends less on its last batches (the seeds' spread)
    "ldm_fast": {
        "ldm 32/64, 3000 steps, cosine (preset)": [
            "model=ldm",
            "model.channels=[32,64]",
            "trainer.max_steps=3000",
            "model.lr_schedule=cosine",
        ],
    },
    # one knob at a time from a preset
    "ablations": {
        "ddpm cosine": ["model=ddpm", "experiment=ddpm_cpu", "model.beta_schedule=squaredcos_cap_v2"],
        "ddpm 32/64/64": ["model=ddpm", "experiment=ddpm_cpu", "model.channels=[32,64,64]"],
        "ddpm ema 0.999": ["model=ddpm", "experiment=ddpm_cpu", "model.ema_decay=0.999"],
        "ddpm v-prediction": ["model=ddpm", "experiment=ddpm_cpu", "model.prediction_type=v_prediction"],
        "ddpm min-SNR-5": ["model=ddpm", "experiment=ddpm_cpu", "model.snr_gamma=5"],
        "flow 2000 steps": ["model=flow", "trainer.max_steps=2000"],
        "flow uniform t": ["model=flow", "model.time_sampling=uniform"],
        "ldm first preset, cosine": ["model=ldm", "model.channels=[64,128]", "trainer.max_steps=1400"],
        "ldm 10 Euler steps": ["model=ldm", "sampling.steps=10"],
        "ldm uniform t": ["model=ldm", "model.time_sampling=uniform"],
        "ldm no EMA": ["model=ldm", "model.ema_decay=0"],
        "ldm autoencoder retrained": ["model=ldm", "model.autoencoder=retrain"],
    },
}


def point_folder(out: Path, overrides: list[str], seed: int) -> Path:
    """The point's run folder, a name Hydra accepts unquoted as run_dir: `=`, `/`, brackets and commas become `-`."""
    return out / ("_".join(re.sub(r"[^\w.-]+", "-", o) for o in overrides) + f"_seed{seed}")


def point_command(overrides: list[str], seed: int, folder: Path) -> list[str]:
    """The point's `python -m bench` command: generation 0 alone, unless the point asks for more generations
    (`--extra loop.generations=3`: the same run then also shows the setting collapsing under the default loop,
    `replace`, and its generation 0 is the table's row)."""
    length = [] if any(o.startswith("loop.generations=") for o in overrides) else ["loop.generations=1"]
    return [sys.executable, "-m", "bench", *overrides, f"seed={seed}", *length, f"run_dir={folder}"]


def run_point(overrides: list[str], seed: int, out: Path) -> dict:
    """One generation 0 (resumed if already finished); its results.json's generation 0 and the config's sizes."""
    folder = point_folder(out, overrides, seed)
    done = folder / "results.json"
    # a finished point is read, not resumed: a resume re-checks the config, which a key added to conf/ since the
    # point ran (with a default that keeps the old behaviour) would refuse
    if not (done.exists() and json.loads(done.read_text()).get("status") == "finished"):
        subprocess.run(point_command(overrides, seed, folder), check=True, stdout=subprocess.DEVNULL)
    results = json.loads(done.read_text())
    return {"gen": results["generations"][0], "config": results["config"]}


def mean_pm(values: list[float], digits: int = 1) -> str:
    """The mean ± the 95% t half-width over seeds (the value alone for one seed)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return f"{statistics.mean(values):.{digits}f} ± {half:.{digits}f}"


def row(name: str, points: list[dict]) -> str:
    cfg = points[0]["config"]
    steps, batch = cfg["trainer"]["max_steps"], cfg["trainer"]["batch_size"]
    extra = cfg["model"].get("autoencoder_steps")
    compute = f"{steps} x {batch}" + (f" + AE {extra} x {batch}" if extra else "")
    m = [p["gen"]["metrics"] for p in points]
    sec = [p["gen"]["seconds"] for p in points]
    return (
        " | ".join(
            [
                f"| {name}",
                compute,
                str(len(points)),
                mean_pm([s["train"] for s in sec]),
                mean_pm([s["sample"] + s["eval"] for s in sec]),
                mean_pm([x["fid"] for x in m]),
                mean_pm([x["recall"] for x in m], 2),
                mean_pm([x["coverage"] for x in m], 2),
                mean_pm([x["precision"] for x in m], 2),
                mean_pm([float(x["classes_covered"]) for x in m]),
                "yes" if all(p["gen"]["healthy"] for p in points) else "no",
            ]
        )
        + " |"
    )


HEADER = (
    "| setting | training compute (steps x batch) | seeds | train s | sample + score s | FID | recall | coverage "
    "| precision | classes | healthy |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--out", type=Path, default=Path("outputs/diffusion_recipe"))
    p.add_argument("--table", type=Path, default=None, help="write the markdown table here (default: print only)")
    p.add_argument(
        "--section",
        default=None,
        help="replace only the lines between <!-- recipe:NAME --> and <!-- /recipe:NAME --> in --table (a doc)",
    )
    p.add_argument("--extra", nargs="*", default=[], help="overrides added to every point (e.g. trainer.num_threads=1)")
    args = p.parse_args(argv)
    lines = [HEADER]
    for grid in args.grid:
        for name, overrides in GRIDS[grid].items():
            points = [run_point([*overrides, *args.extra], seed, args.out) for seed in args.seeds]
            lines.append(row(name, points))
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    command = "python benchmarks/diffusion_recipe.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(table)
    if args.table:
        made = f"Made by `{command}` on {cpu_name()} ({bf16_note()}):\n\n{table}\n"
        args.table.write_text(into_section(args.table, args.section, made) if args.section else made)


def cpu_name() -> str:
    """The CPU's model name (a README number names its CPU), or the architecture where /proc/cpuinfo is missing."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def bf16_note() -> str:
    """Whether this CPU has native bf16, which decides what the presets' `precision: auto` ran in (and the seconds:
    emulated bf16 is 16x slower, bench.models.precision)."""
    if native_bf16("cpu"):
        return "native bf16: `precision: auto` ran bf16"
    return "no native bf16: `precision: auto` ran fp32"


def into_section(doc: Path, name: str, text: str) -> str:
    """`doc`'s text with the lines between its `<!-- recipe:NAME -->` and `<!-- /recipe:NAME -->` markers replaced."""
    start, end = f"<!-- recipe:{name} -->\n", f"<!-- /recipe:{name} -->"
    old = doc.read_text() if doc.exists() else ""
    if start not in old or end not in old:
        raise SystemExit(f"error: {doc} has no section {start.strip()} ... {end}")
    head, rest = old.split(start, 1)
    return head + start + text + end + rest.split(end, 1)[1]


if __name__ == "__main__":
    main()
