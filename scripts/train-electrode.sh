#!/usr/bin/env bash
# Re-makes the shipped electrode detector from seeds: data (train seed 1, held-out test seed 2), the three
# ablation rows of the paper's table, evaluation, export with parity check, model card, golden fixtures.
# Not part of CI. Uses a GPU when PyTorch sees one; a 2-core CPU has its own recipe: train-electrode-cpu.sh.
# PYTHON=python3 uses an existing interpreter that has torch, onnx, onnxruntime, numpy and pillow.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/electrode-sets.sh
train() { $py $ml/electrode_train.py --data $w/train --out $w/$1.pt --variant $1 --seed 0 --epochs 30 --patience 6 "${@:2}"; }
if [ "${PARALLEL:-0}" = 1 ]; then  # a GPU has room for all three rows at once
  for v in base attention full; do train $v "$@" >$w/$v.log 2>&1 & done
  wait
else
  for v in base attention full; do train $v "$@" 2>&1 | tee $w/$v.log; done
fi
for v in base attention full; do
  $py $ml/electrode_evaluate.py --checkpoint $w/$v.pt --data $w/test --json $w/$v.eval.json
done
$py $ml/electrode_export.py --checkpoint $w/full.pt --eval $w/full.eval.json --ablation $w/base.eval.json \
  --ablation $w/attention.eval.json --data $w/test --out onnx/electrode_detector.onnx
$py $ml/electrode_evaluate.py --model onnx/electrode_detector.onnx --data $w/test --json $w/full.onnx.eval.json
# CARD_ARGS: e.g. "--equal-time DIR --cpu-run EVAL.json --cpu-log LOG --cpu-sweep SWEEP.json --cpu-tuned EVAL.json"
# from other runs (train-electrode-cpu.sh writes the --cpu-* files).
$py $ml/electrode_card.py --report onnx/electrode_detector.report.json --out onnx/electrode_detector.md ${CARD_ARGS:-}
$py $ml/electrode_fixtures.py --model onnx/electrode_detector.onnx --data $w/test --out tests/fixtures/electrode
