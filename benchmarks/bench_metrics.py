"""Time and peak memory of the bench.metrics suite at N = 10,000 real vs 10,000 generated (D = 128).

    .venv/bin/python benchmarks/bench_metrics.py [--n-real 10000 --n-gen 10000 --dim 128]

Not a test. Every measurement runs in a fresh subprocess that builds the same
seeded data (10 Gaussian classes; generated = narrower, shifted, class-skewed),
imports everything, records ru_maxrss (peak resident set size, Linux: KiB),
runs the measured call --repeat times (default 3), and reports the fastest wall
time (the machine may be shared; the minimum is the least disturbed run) and
the rise of ru_maxrss over that baseline across all calls. ru_maxrss is a high-water mark, so the delta is
the memory the call needed on top of what the process already held (tracemalloc
does not see torch's allocations). Setup data that the call does not need
is built before the baseline (the RealReference is built once in a separate
process and loaded, so its own transient peak does not hide the call's);
one-time library initialisation (LAPACK, thread pool, autograd) is warmed up
on 300 rows before it too.

Rows:
  reference          RealReference.from_features (mean/cov, k-NN radii): once per run
  score              the full suite, score(ref, gen, labels), no bootstrap, kid 100 x 1000  (target <= 4 s)
  score+train        the same plus memorisation against 10,000 training features
  fid, kid, prdc(cached radii), c2st, vendi, memorization: the parts
  prdc from scratch  prdc() with real and generated radii computed (k_pr=3, k_dc=5)
  prdc k=5 strict    ours with the prdc package's semantics (one k for all four, strict "<")
  prdc package       prdc.compute_prdc(real, gen, nearest_k=5) from PyPI (full N x N matrices; not a
                     dependency: `pip install prdc` to get this row)                  (target: ours >= 3x faster)
  score n=5000       one scoring as in experiment=long: 5,000 generated vs a 5,000-row reference, kid 50 x 1000,
                     memorisation against 20,000 training rows (their nearest-neighbour distances cached)
  score n=5000 +bootstrap   the same with bootstrap=--resamples (default 200)          (target <= 2x score n=5000)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROWS = [
    "reference",
    "score",
    "score+train",
    "fid",
    "kid",
    "prdc(cached radii)",
    "c2st",
    "vendi",
    "memorization",
    "prdc from scratch",
    "prdc k=5 strict",
    "prdc package",
    "score n=5000",
    "score n=5000 +bootstrap",
]
BOOT_N, BOOT_TRAIN = 5000, 20_000


def make_data(n_real: int, n_gen: int, dim: int, n_train: int | None = None):
    import torch

    g = torch.Generator().manual_seed(0)
    centres = 3.0 * torch.randn(10, dim, generator=g)
    real_labels = torch.randint(0, 10, (n_real,), generator=g)
    real = centres[real_labels] + torch.randn(n_real, dim, generator=g)
    skew = torch.tensor([3.0, 2, 2, 1, 1, 1, 1, 1, 0.5, 0.1])
    gen_labels = torch.multinomial(skew / skew.sum(), n_gen, replacement=True, generator=g)
    gen = centres[gen_labels] + 0.9 * torch.randn(n_gen, dim, generator=g) + 0.02
    n_train = n_real if n_train is None else n_train
    train_labels = torch.randint(0, 10, (n_train,), generator=g)
    train = centres[train_labels] + torch.randn(n_train, dim, generator=g)
    return real, real_labels, gen, gen_labels, train


def prdc_package(real, gen, k):
    """The prdc package (Naeem et al.'s reference code: three full distance matrices), on numpy float32."""
    import contextlib
    import io

    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        out = compute_prdc(real_features=real.numpy(), fake_features=gen.numpy(), nearest_k=k)
    return {key: float(v) for key, v in out.items()}


def measure(name: str, n_real: int, n_gen: int, dim: int, repeat: int, ref_path: str, resamples: int) -> dict:
    import torch

    torch.set_flush_denormal(True)
    import bench.metrics as M

    real, real_labels, gen, gen_labels, train = make_data(n_real, n_gen, dim)
    small_ref_path, train_nn_path = ref_path + ".boot", ref_path + ".train_nn"
    if name == "prepare":  # build the references once; the other rows load them, which raises no transient peak
        M.RealReference.from_features(real, real_labels, num_classes=10).save(ref_path)
        *_, big_train = make_data(n_real, n_gen, dim, n_train=BOOT_TRAIN)
        M.RealReference.from_features(real[:BOOT_N], real_labels[:BOOT_N], num_classes=10).save(small_ref_path)
        torch.save(M.train_nn_distances(big_train), train_nn_path)
        return {}
    if name == "prdc package":
        try:
            import prdc  # noqa: F401
        except ImportError:
            return {"skipped": "prdc package not installed (pip install prdc)"}
    ref = M.RealReference.load(ref_path)
    if name.startswith("score n=5000"):
        *_, train = make_data(n_real, n_gen, dim, n_train=BOOT_TRAIN)
        ref = M.RealReference.load(small_ref_path)
        train_nn = torch.load(train_nn_path, weights_only=True)
        gen, gen_labels = gen[:BOOT_N], gen_labels[:BOOT_N]
    boot = dict(train_feats=train, kid_subsets=50) if name.startswith("score n=5000") else {}
    calls = {
        "reference": lambda: (M.RealReference.from_features(real, real_labels, num_classes=10), None)[1],
        "score": lambda: M.score(ref, gen, gen_labels),
        "score+train": lambda: M.score(ref, gen, gen_labels, train_feats=train),
        "fid": lambda: M.fid(real, gen),
        "kid": lambda: M.kid(real, gen),
        "prdc(cached radii)": lambda: M.prdc(real, gen, real_radii_pr=ref.radii_pr, real_radii_dc=ref.radii_dc),
        "c2st": lambda: M.c2st(real, gen),
        "vendi": lambda: M.vendi(gen),
        "memorization": lambda: M.memorization(train, gen),
        "prdc from scratch": lambda: M.prdc(real, gen),
        "prdc k=5 strict": lambda: M.prdc(real, gen, k_pr=5, k_dc=5, strict=True),
        "prdc package": lambda: prdc_package(real, gen, 5),
        "score n=5000": lambda: M.score(ref, gen, gen_labels, train_nn=train_nn, **boot),
        "score n=5000 +bootstrap": lambda: M.score(
            ref, gen, gen_labels, train_nn=train_nn, bootstrap=resamples, **boot
        ),
    }
    # one-time initialisation (LAPACK, thread pool, autograd) is not the metric's cost: warm up on 300 rows
    # (MKL's first eigen-decomposition of a given size alone takes ~0.7 s), at the real dimension
    r, q = real[:300], gen[:300]
    M.fid(r, q), M.vendi(q), M.c2st(r, q), M.prdc(r, q), M.kid(r, q, subset_size=100, subsets=2)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = calls[name]()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": min(times), "all_seconds": times, "peak_mib": (peak - base) / 1024, "result": result}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-real", type=int, default=10_000)
    p.add_argument("--n-gen", type=int, default=10_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--only", nargs="*", default=None, help="subset of rows to run")
    p.add_argument("--repeat", type=int, default=3, help="calls per measurement; the fastest is reported")
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples of the 'score n=5000' row")
    p.add_argument("--measure", help=argparse.SUPPRESS)
    p.add_argument("--ref-path", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure, a.n_real, a.n_gen, a.dim, a.repeat, a.ref_path, a.resamples)))
        return

    import torch

    load = os.getloadavg()[0]
    print(
        f"bench.metrics at N_real={a.n_real}, N_gen={a.n_gen}, D={a.dim}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load:.2f}"
    )
    if load > 0.5:
        print("warning: the machine is busy; timings include contention")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = os.path.join(tmp, "reference.pt")
        for name in ["prepare"] + (a.only or ROWS):
            cmd = [
                sys.executable,
                __file__,
                "--measure",
                name,
                "--n-real",
                str(a.n_real),
                "--n-gen",
                str(a.n_gen),
                "--dim",
                str(a.dim),
                "--repeat",
                str(a.repeat),
                "--ref-path",
                ref_path,
                "--resamples",
                str(a.resamples),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{name}: failed\n{proc.stderr[-2000:]}")
                if name == "prepare":
                    return
                continue
            if name == "prepare":
                continue
            rows[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = rows[name]
            if "skipped" in r:
                print(f"  {name:<28} skipped: {r['skipped']}")
                del rows[name]
                continue
            print(f"  {name:<28} {r['seconds']:8.2f} s  {r['peak_mib']:9.1f} MiB  (load {os.getloadavg()[0]:.2f})")

    print()
    print(f"| {'measurement':<28} | {'time (s)':>8} | {'peak RSS rise (MiB)':>19} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 21}|")
    for name, r in rows.items():
        print(f"| {name:<28} | {r['seconds']:8.2f} | {r['peak_mib']:19.1f} |")
    print()
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    if "score" in rows:
        t = rows["score"]["seconds"]
        print(f"suite (score, {a.n_real} vs {a.n_gen}, cached reference): {t:.2f} s; target <= 4 s: {_met(t <= 4)}")
    ours, pkg = rows.get("prdc k=5 strict"), rows.get("prdc package")
    if ours and pkg:
        same = all(abs(ours["result"][k] - pkg["result"][k]) < 1e-12 for k in ours["result"])
        print(
            f"prdc package / ours (k=5, strict, from scratch): time x{pkg['seconds'] / ours['seconds']:.2f} "
            f"(target >= 3: {_met(pkg['seconds'] >= 3 * ours['seconds'])}), memory {pkg['peak_mib']:.0f} vs "
            f"{ours['peak_mib']:.0f} MiB; results {'equal (to 1e-12)' if same else 'differ'}: ours {ours['result']}, "
            f"package {pkg['result']}"
        )
    one, boot = rows.get("score n=5000"), rows.get("score n=5000 +bootstrap")
    if one and boot:
        ratio = boot["seconds"] / one["seconds"]
        print(
            f"score n=5000 with {a.resamples} bootstrap resamples / without: x{ratio:.2f} "
            f"({boot['seconds']:.2f} s vs {one['seconds']:.2f} s; the resamples alone "
            f"x{(boot['seconds'] - one['seconds']) / one['seconds']:.2f} of one scoring); target <= 2 at 200: "
            f"{_met(ratio <= 2) if a.resamples == 200 else 'n/a'}; peak memory {boot['peak_mib']:.0f} vs "
            f"{one['peak_mib']:.0f} MiB"
        )
    if "score" in rows:
        print(
            "score:",
            {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in rows["score"]["result"].items()
                if k != "class_shares"
            },
        )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
