#!/usr/bin/env bash
# The interpreter for `cellgate bench --compare-python`: the evaluation environment (scripts/setup-eval.sh:
# numpy, ONNX Runtime as the firmware links it) with OpenCV added, which the Python baseline
# (scripts/bench_python.py) resizes with. Idempotent; prints the interpreter to use.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/setup-eval.sh)
if ! "$py" -c 'import cv2' 2>/dev/null; then
  echo "setup-bench: opencv-python-headless -> $(dirname "$(dirname "$py")")/" >&2
  "$py" -m pip install -q "opencv-python-headless>=4.8" >&2
fi
echo "$py"
