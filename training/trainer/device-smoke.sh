#!/usr/bin/env bash
# First call on the GPU machine: versions, the math self-test, the tiny parity model (2 layers, width 64,
# 40 steps) with its golden logits, and the training rate of candidate shapes.
# Usage (from the folder that holds trainer/ and data/): bash trainer/device-smoke.sh OUT_DIR
set -euo pipefail
OUT=${1:?out dir}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c 'import torch, triton, safetensors; print("torch", torch.__version__, "triton", triton.__version__, torch.cuda.get_device_name())'
python3 trainer/selftest.py
python3 trainer/train.py --data data --run-dir /tmp/gh-tiny --layers 2 --embd 64 --ctx 256 --batch 8 \
  --steps 40 --warmup 5 --lr 3e-3 --val-every 1000 --log-every 10 --seed 7 --export "$OUT/tiny.safetensors"
python3 trainer/export.py golden --model "$OUT/tiny.safetensors" --out "$OUT/tiny-golden.json"
for shape in "6 256 48" "8 384 32" "12 384 32" "8 512 24"; do
  set -- $shape
  echo "== rate L$1 C$2 batch $3 ctx 1024"
  python3 trainer/train.py --data data --run-dir /tmp/gh-bench-$1-$2 --layers $1 --embd $2 --batch $3 --ctx 1024 \
    --steps 30 --warmup 10 --budget-s 40 --val-every 1000 --val-batches 1 --log-every 10 2>&1 | grep -E 'tok_s|params' | tail -3
done
