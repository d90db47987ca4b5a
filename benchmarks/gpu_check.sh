#!/usr/bin/env bash
# One prepared GPU session (see README "On a GPU"): speed ratios, the ddpm_gpu preset's generation 0, and the
# DDIM-steps study on a well-trained and an under-trained model. Run from the repo root on the GPU machine:
#     source .whl/prelude.sh && bash benchmarks/gpu_check.sh     (writes into $OUT, or ./gpu_out)
set -u
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"; RUNS=/tmp/bench_runs; mkdir -p $RUNS
export BENCH_CACHE_DIR=/tmp/bench_cache PYTHONWARNINGS=ignore
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
keep() { mkdir -p "$OUT/$1"; cp "$RUNS/$1"/{results.json,metrics.csv,metrics.png} "$OUT/$1/" 2>/dev/null
         for g in "$RUNS/$1"/gen_*; do mkdir -p "$OUT/$1/$(basename $g)"; cp "$g"/{record.json,samples.png} "$OUT/$1/$(basename $g)/"; done; }

# 1. speed: our sampling vs DDIMPipeline fp32, Lightning vs a plain loop (DDPM of the preset's size, and the VAE)
timeout 120 python benchmarks/bench_ddpm.py device=cuda channels=64,128,128 layers=2 attention=true batch=256 \
  n=4000 steps=50 sample_batch=2000 train_steps=300 > "$OUT/bench_ddpm_gpu.json" 2> "$OUT/bench_ddpm_gpu.err"
tail -c 1500 "$OUT/bench_ddpm_gpu.json"

# 2. the preset's generation 0 (training steps as the preset says unless STEPS is set; FIT=seconds sizes it from 1.)
if [ -n "${FIT:-}" ]; then STEPS=$(python -c "import json; r = json.load(open('$OUT/bench_ddpm_gpu.json'));
print(min(6000, int($FIT * r['training']['bf16-mixed']['lightning_steps_per_s']) // 100 * 100))"); echo "STEPS=$STEPS"; fi
timeout 330 python -m bench model=ddpm experiment=ddpm_gpu loop.generations=1 ${STEPS:+trainer.max_steps=$STEPS} \
  trainer.enable_progress_bar=false hydra.run.dir=$RUNS/ddpm_gpu > "$OUT/ddpm_gpu.log" 2>&1
grep -v Warning "$OUT/ddpm_gpu.log" | tail -4; keep ddpm_gpu

# 3. DDIM steps on that model: leading vs trailing spacing, clipping on and off
timeout 120 python benchmarks/ddim_steps.py $RUNS/ddpm_gpu steps=10,20,50,100,250 device=cuda > "$OUT/ddim_gpu.txt" 2>&1
cat "$OUT/ddim_gpu.txt" | grep -v "^{"

# 4. the issue's under-trained setting: 1.6M-parameter UNet (32/64/64), batch 256, bf16, 2,500 steps
timeout 150 python -m bench model=ddpm experiment=ddpm_gpu loop.generations=1 model.channels=[32,64,64] \
  model.layers_per_block=1 model.attention=false trainer.max_steps=2500 trainer.enable_progress_bar=false \
  hydra.run.dir=$RUNS/under > "$OUT/under.log" 2>&1
grep -v Warning "$OUT/under.log" | tail -3; keep under
timeout 120 python benchmarks/ddim_steps.py $RUNS/under steps=20,50,250 device=cuda > "$OUT/ddim_under.txt" 2>&1
cat "$OUT/ddim_under.txt" | grep -v "^{"
