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
  reference      RealReference.from_features (mean/cov, k-NN radii): once per run
  score          the full suite, score(ref, gen, labels), no bootstrap, kid 100 x 1000
  score+train    the same plus memorisation against 10,000 training features
  fid, kid, prdc(cached radii), c2st, vendi, memorization: the parts
  prdc chunked   prdc() from scratch (real and generated radii included), chunk 4096
  prdc full NxN  the textbook way: full real-real, gen-gen and gen-real distance
                 matrices held at once (same cdist mode, and the faster matmul mode)
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
    "prdc chunked",
    "prdc full NxN (direct)",
    "prdc full NxN (matmul)",
]


def make_data(n_real: int, n_gen: int, dim: int):
    import torch

    g = torch.Generator().manual_seed(0)
    centres = 3.0 * torch.randn(10, dim, generator=g)
    real_labels = torch.randint(0, 10, (n_real,), generator=g)
    real = centres[real_labels] + torch.randn(n_real, dim, generator=g)
    skew = torch.tensor([3.0, 2, 2, 1, 1, 1, 1, 1, 0.5, 0.1])
    gen_labels = torch.multinomial(skew / skew.sum(), n_gen, replacement=True, generator=g)
    gen = centres[gen_labels] + 0.9 * torch.randn(n_gen, dim, generator=g) + 0.02
    train_labels = torch.randint(0, 10, (n_real,), generator=g)
    train = centres[train_labels] + torch.randn(n_real, dim, generator=g)
    return real, real_labels, gen, gen_labels, train


def prdc_full_matrices(real, gen, k_pr, k_dc, mode):
    """PRDC with all three N x N distance matrices in memory at once (as in Naeem et al.'s reference code)."""
    import torch

    d_rr = torch.cdist(real, real, compute_mode=mode)
    d_gg = torch.cdist(gen, gen, compute_mode=mode)
    d_gr = torch.cdist(gen, real, compute_mode=mode)
    d_rr.fill_diagonal_(float("inf"))
    d_gg.fill_diagonal_(float("inf"))
    kmax = max(k_pr, k_dc)
    r_real = torch.topk(d_rr, kmax, dim=1, largest=False).values
    r_gen = torch.topk(d_gg, k_pr, dim=1, largest=False).values[:, k_pr - 1]
    r_pr, r_dc = r_real[:, k_pr - 1], r_real[:, k_dc - 1]
    return {
        "precision": (d_gr <= r_pr[None]).any(1).double().mean().item(),
        "recall": (d_gr <= r_gen[:, None]).any(0).double().mean().item(),
        "density": (d_gr <= r_dc[None]).double().sum().item() / (k_dc * gen.shape[0]),
        "coverage": (d_gr <= r_dc[None]).any(0).double().mean().item(),
    }


def measure(name: str, n_real: int, n_gen: int, dim: int, repeat: int, ref_path: str) -> dict:
    import torch

    torch.set_flush_denormal(True)
    import bench.metrics as M

    real, real_labels, gen, gen_labels, train = make_data(n_real, n_gen, dim)
    if name == "prepare":  # build the reference once; the other rows load it, which raises no transient peak
        M.RealReference.from_features(real, real_labels, num_classes=10).save(ref_path)
        return {}
    ref = M.RealReference.load(ref_path)
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
        "prdc chunked": lambda: M.prdc(real, gen),
        "prdc full NxN (direct)": lambda: prdc_full_matrices(real, gen, 3, 5, "donot_use_mm_for_euclid_dist"),
        "prdc full NxN (matmul)": lambda: prdc_full_matrices(real, gen, 3, 5, "use_mm_for_euclid_dist"),
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
    p.add_argument("--measure", help=argparse.SUPPRESS)
    p.add_argument("--ref-path", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure, a.n_real, a.n_gen, a.dim, a.repeat, a.ref_path)))
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
            print(f"  {name:<24} {r['seconds']:8.2f} s  {r['peak_mib']:9.1f} MiB")

    print()
    print(f"| {'measurement':<24} | {'time (s)':>8} | {'peak RSS rise (MiB)':>19} |")
    print(f"|{'-' * 26}|{'-' * 10}|{'-' * 21}|")
    for name, r in rows.items():
        print(f"| {name:<24} | {r['seconds']:8.2f} | {r['peak_mib']:19.1f} |")
    chunked = rows.get("prdc chunked")
    for full in ("prdc full NxN (direct)", "prdc full NxN (matmul)"):
        if chunked and full in rows:
            f = rows[full]
            same = "identical" if f["result"] == chunked["result"] else f"differ: {f['result']} vs {chunked['result']}"
            print(
                f"{full} / prdc chunked: time x{f['seconds'] / chunked['seconds']:.2f}, "
                f"memory x{f['peak_mib'] / max(chunked['peak_mib'], 1e-9):.1f}; results {same}"
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


if __name__ == "__main__":
    main()
