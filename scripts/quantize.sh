#!/usr/bin/env bash
# INT8 versions of both shipped models (scripts/ml/quantize.py), calibrated on their TRAINING renderers'
# seeds, with their speed against the float models on this machine and their accuracy on held-out sets
# (report only: nothing is chosen on them). Writes under work/quantize/; ships nothing: a model goes to
# onnx/ by hand, and only when it meets issue 24's targets. Not in CI (minutes).
#
#   bash scripts/quantize.sh [seal|electrode|both]
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/setup-eval.sh)
"$py" -c 'import sympy' 2>/dev/null || "$py" -m pip install -q sympy >&2  # ONNX Runtime's shape inference
ml=scripts/ml
w=work/quantize
mkdir -p $w
what=${1:-both}
if [ "$what" != electrode ]; then
  # Calibration: the first 256 pairs of the training pool (seal_pool.py seed 101, train-seal.sh's).
  [ -f $w/seal-calib/manifest.jsonl ] || "$py" $ml/seal_pool.py --design --out $w/seal-calib --count 256 --seed 101 >/dev/null
  # Held-out: the training renderer's test seed (fixed recipes) and the second renderer.
  [ -f $w/seal-test/manifest.jsonl ] || "$py" $ml/seal_render.py --out $w/seal-test --count 600 --seed 2 >/dev/null
  [ -f $w/seal-b/manifest.jsonl ] || "$py" $ml/seal_render_b.py --out $w/seal-b --count 600 --seed 31 >/dev/null
  "$py" $ml/quantize.py --model onnx/seal_classifier.onnx --calib $w/seal-calib --out $w/seal_classifier.int8.onnx \
    --eval $w/seal-test $w/seal-b
fi
if [ "$what" != seal ]; then
  # Calibration: the first 256 pairs of the training set (electrode_render.py seed 1, train-electrode.sh's).
  [ -f $w/electrode-calib/annotations.json ] || "$py" $ml/electrode_render.py --look classic --out $w/electrode-calib \
    --count 256 --seed 1 --workers "$(nproc)" >/dev/null
  # Held-out: the training renderer's test seed, and the second renderer's set b.
  [ -f $w/electrode-test/annotations.json ] || "$py" $ml/electrode_render.py --look classic --out $w/electrode-test \
    --count 1000 --seed 2 --workers "$(nproc)" >/dev/null
  PYTHON=$py bash scripts/electrode-eval-sets.sh >/dev/null
  "$py" $ml/quantize.py --model onnx/electrode_detector.onnx --calib $w/electrode-calib \
    --out $w/electrode_detector.int8.onnx --eval $w/electrode-test work/electrode-eval/b
fi
