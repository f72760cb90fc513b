#!/usr/bin/env bash
# GPU check of `norep predict` (issue 10): images per second of the runner against a bare
# timm loop, bf16 autocast, for three models on one GPU; prints a table, under 5 minutes.
# Models are random-initialized (no download): speed does not depend on the weights.
#
# Usage: benchmarks/gpu_check.sh [JSON_OUT]     (PYTHON selects the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
workers=$(( $(nproc) > 9 ? 8 : $(nproc) - 1 ))
timeout 290 "$PYTHON" benchmarks/inference_speed.py \
    --model resnet50 --model convnext_tiny --model vit_base_patch16_224 \
    --device cuda --precision bf16 --images 3072 --size 256 --batch-size 256 \
    --workers "$workers" --repeat 2 ${1:+--json "$1"}
