#!/usr/bin/env bash
# One resumable chunk of the default model's training on the GPU machine (under 10 minutes):
#   bash trainer/device-train.sh OUT_DIR BUDGET_S
# Resumes from /tmp/gh-run/state.pt while the machine stays warm; on a cold machine it goes on from the
# exported weights carried in data/resume.safetensors (if any). Brings back the exported bf16 model split into
# parts of 15 MB (files from the machine are limited to 16 MB), the loss log and the run's output.
set -euo pipefail
OUT=${1:?out dir}; BUDGET=${2:-540}
export PYTHONUNBUFFERED=1
ARGS=(--data data --run-dir /tmp/gh-run --layers 8 --embd 384 --batch 32 --ctx 1024 --lr 2e-3 --min-lr 1e-4
  --warmup 150 --steps 3800 --seed 1 --val-every 250 --log-every 25 --budget-s "$BUDGET" --export /tmp/gh-model.safetensors)
if [ ! -f /tmp/gh-run/state.pt ] && [ -f data/resume.safetensors ]; then
  ARGS+=(--init-from data/resume.safetensors --start-step "$(cat data/resume.step)")
fi
python3 trainer/train.py "${ARGS[@]}" 2>&1 | tee "$OUT/train.log"
cp /tmp/gh-run/log.jsonl "$OUT/loss.jsonl"
python3 -c "import json,sys; from safetensors import safe_open; f=safe_open('/tmp/gh-model.safetensors','pt'); print(json.dumps(f.metadata()))" > "$OUT/model-meta.json"
split -b 15000000 -d /tmp/gh-model.safetensors "$OUT/model.part"
sha256sum /tmp/gh-model.safetensors | tee "$OUT/model.sha256"
