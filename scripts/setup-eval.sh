#!/usr/bin/env bash
# Evaluation environment for the seal generalization suite (scripts/ml/seal_eval_suite.py) and the
# second renderer's test: numpy, Pillow, ONNX and ONNX Runtime only, no PyTorch (a few tens of MB instead
# of the training environment's GBs). Uses the training environment .venv when it already exists and has
# them; otherwise a project-local .venv-eval. Idempotent; prints the interpreter to use.
set -euo pipefail
cd "$(dirname "$0")/.."
# Same ONNX Runtime as the firmware links (scripts/setup.sh), so the figures are the station's.
ORT_VERSION=1.32.0
check='import numpy, PIL, onnx, onnxruntime'
if [ -x .venv/bin/python ] && .venv/bin/python -c "$check" 2>/dev/null; then
  echo .venv/bin/python
  exit 0
fi
if [ ! -x .venv-eval/bin/python ]; then
  python3 -m venv .venv-eval
fi
if ! .venv-eval/bin/python -c "$check; assert onnxruntime.__version__ == '$ORT_VERSION'" 2>/dev/null; then
  echo "setup-eval: numpy, pillow, onnx, onnxruntime $ORT_VERSION -> .venv-eval/" >&2
  .venv-eval/bin/pip install -q --upgrade pip >&2
  .venv-eval/bin/pip install -q "numpy>=1.26" "pillow>=10" "onnx>=1.17" "onnxruntime==$ORT_VERSION" >&2
fi
echo .venv-eval/bin/python
