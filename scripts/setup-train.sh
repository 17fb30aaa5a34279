#!/usr/bin/env bash
# Training environment (not used by CI): a project-local virtual environment with PyTorch (CPU is enough;
# the PyPI wheel brings CUDA libraries, several GB), ONNX tooling and ONNX Runtime. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import torch, onnx, onnxruntime, onnxscript, PIL, numpy' 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r scripts/requirements-train.txt
fi
