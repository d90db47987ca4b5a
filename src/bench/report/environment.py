"""What a run ran on: package versions, device, threads, date, and whether the source tree matched its commit.

Recorded in results.json (`environment`) by the session that last wrote the run, so a number that moved between
two runs of one config can be traced to a torch upgrade, another device or an uncommitted edit.
"""

from __future__ import annotations

import platform
import subprocess  # nosec B404 # `git` for the source commit, an argument list, never a shell
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import torch

from bench.models.precision import device_type, native_bf16

PACKAGES = ("torch", "torchvision", "lightning", "diffusers", "torchmetrics", "hydra-core", "numpy")
SOURCE = Path(__file__).resolve().parents[1]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(  # nosec B603 B607 # fixed git arguments; git found on PATH like any installed tool
            ["git", *args], capture_output=True, text=True, cwd=SOURCE, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return out.strip() if out else None


def source_dirty(commit: str | None) -> bool | None:
    """True when the checkout holding the package has uncommitted edits to tracked files; None outside one."""
    if commit is None:
        return None
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def device_name(accelerator: str) -> str:
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:  # platform.processor() is empty or just the architecture on Linux; the model name says which CPU
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def environment(accelerator: str = "cpu") -> dict:
    commit = git_commit()
    return {
        "packages": {p: _version(p) for p in PACKAGES},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "accelerator": accelerator,
        "device": device_name(accelerator),
        "torch_threads": torch.get_num_threads(),
        # the CPU kernels torch picked (AVX2, AVX512, ...): two CPUs of one name can differ here, and a VAE trained
        # in fp32 on an AVX2 EPYC and on another EPYC ended generation 0 at different FIDs (same code and seeds)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        # what `precision: auto` (trainer and sampling) resolved to here: bf16 when true, fp32 when false
        "bf16_native": native_bf16(device_type(accelerator)),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "source_dirty": source_dirty(commit),
    }
