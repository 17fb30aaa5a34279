#!/usr/bin/env bash
# Re-makes the shipped seal classifier from seeds: data, training, the two ablations, evaluation,
# export with parity check, recipe-disjoint evaluation (scripts/ml/seal_eval_suite.py), card, golden
# fixtures. CPU only; about an hour on 2 cores. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-train.sh
py=.venv/bin/python
ml=scripts/ml
w=work/seal
$py $ml/seal_render.py --out $w/train --count 6000 --seed 1
$py $ml/seal_render.py --out $w/test --count 2000 --seed 2
$py $ml/seal_train.py --data $w/train --out $w/full.pt --seed 0 --epochs 18 --patience 6 --lr 2e-3 "$@"
$py $ml/seal_train.py --data $w/train --out $w/no-attention.pt --seed 0 --epochs 18 --patience 6 --lr 2e-3 --no-attention "$@"
$py $ml/seal_train.py --data $w/train --out $w/no-gain.pt --seed 0 --epochs 18 --patience 6 --lr 2e-3 --alpha 0 "$@"
for m in full no-attention no-gain; do
  $py $ml/seal_evaluate.py --checkpoint $w/$m.pt --data $w/test --json $w/$m.eval.json
done
$py $ml/seal_export.py --checkpoint $w/full.pt --eval $w/full.eval.json --ablation $w/no-attention.eval.json \
  --ablation $w/no-gain.eval.json --out onnx/seal_classifier.onnx
# Recipe-disjoint figures (issue 18), measured after the fact: nothing above is chosen on them.
$py $ml/seal_eval_suite.py --model onnx/seal_classifier.onnx --out work/seal-eval/report.json --count 600 \
  --card-section work/seal-eval/card.md
$py $ml/seal_card.py --report onnx/seal_classifier.report.json --out onnx/seal_classifier.md \
  --generalization work/seal-eval/card.md
$py $ml/seal_fixtures.py --model onnx/seal_classifier.onnx --out tests/fixtures/seal
