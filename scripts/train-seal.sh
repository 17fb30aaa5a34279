#!/usr/bin/env bash
# The seal classifier, CPU only, not part of CI.
#
#   bash scripts/train-seal.sh              re-makes the shipped model from seeds: the recipe distribution
#                                           (a fresh recipe per pair), training, two ablations, export with
#                                           parity check, recipe-disjoint evaluation, card, golden fixtures
#                                           (about 145 minutes on 2 cores, 25 minutes more for the ablations)
#   bash scripts/train-seal.sh --data DIR   adapts the shipped model to a line: fine-tunes it on DIR (any
#                                           folder in the DESIGN seal format), chooses the threshold on a
#                                           held-out share of DIR, exports, evaluates and writes a card under
#                                           work/seal-user/ (the shipped files are not touched)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-train.sh
py=.venv/bin/python
ml=scripts/ml
data=
if [ "${1:-}" = --data ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 [--data DIR]" >&2; exit 2; }
  data=$2
  shift 2
fi

if [ -n "$data" ]; then
  w=work/seal-user
  mkdir -p $w
  # The user's pairs split by seed (80 % training, 20 % for the epoch and the threshold), plus a small
  # pool of the recipe distribution so that the model keeps what it knew about other recipes.
  $py $ml/seal_split.py --data "$data" --out $w --select-share 0.2 --seed 0
  [ -f $w/pool-keep.npz ] || $py $ml/seal_pool.py --out $w/pool-keep.npz --count 1000 --seed 103
  $py $ml/seal_train.py --init onnx/seal_classifier.pt --data $w/train --pool $w/pool-keep.npz \
    --select-data $w/select --out $w/full.pt --seed 0 --epochs 6 --patience 3 --lr 5e-4 --max-minutes 6 "$@"
  $py $ml/seal_evaluate.py --checkpoint $w/full.pt --data $w/select --json $w/full.eval.json
  $py $ml/seal_export.py --checkpoint $w/full.pt --eval $w/full.eval.json --data $w/select \
    --out $w/seal_classifier.onnx --version "$(date -u +%Y%m%d)-line"
  $py $ml/seal_card.py --report $w/seal_classifier.report.json --out $w/seal_classifier.md
  echo "adapted model: $w/seal_classifier.onnx (+ .encoder.onnx, .head.onnx, card $w/seal_classifier.md)"
  exit 0
fi

w=work/seal
# The 4 fixed recipes of seal_render.py (the demo's) and the recipe distribution, 16000 pairs; selection
# on held-out draws of both (seeds that no evaluation set uses).
$py $ml/seal_render.py --out $w/train --count 3000 --seed 1
$py $ml/seal_render.py --out $w/select --count 600 --seed 6
$py $ml/seal_render.py --out $w/test --count 2000 --seed 2
[ -f $w/pool-train.npz ] || $py $ml/seal_pool.py --out $w/pool-train.npz --count 16000 --seed 101
[ -f $w/pool-select.npz ] || $py $ml/seal_pool.py --out $w/pool-select.npz --count 2000 --seed 102
# Two stages: the fixed recipes first (the comparison is found there within an epoch; from scratch on the
# recipe distribution the model stayed at chance for 2 epochs, measured), then the whole mix.
mix=(--data $w/train --pool $w/pool-train.npz --select-data $w/select --select-pool $w/pool-select.npz --seed 0)
stage1=(--data $w/train --select-data $w/select --seed 0 --standardise --lr 2e-3 --epochs 4 --patience 9)
$py $ml/seal_train.py "${stage1[@]}" --out $w/stage1.pt "$@"
$py $ml/seal_train.py --init $w/stage1.pt "${mix[@]}" --lr 1e-3 --out $w/stage2.pt --epochs 8 --patience 4 --max-minutes 40 "$@"
# It was still learning after 8 epochs: another 8 at a lower rate (the later --seed wins: a new batch order).
$py $ml/seal_train.py --init $w/stage2.pt "${mix[@]}" --seed 1 --lr 6e-4 --out $w/stage3.pt --epochs 8 --patience 4 --max-minutes 24 "$@"
# Look-alike wrong references (2.1.0): the wrong reference of a made-up NG pair is the most alike of 8
# drawn ones, 12 % of the pairs. First 3 epochs of a 12-epoch schedule at 4e-4 (the run 2.1.0 came from
# was stopped there), then 6 epochs at 3e-4; the epoch kept is the one with the least selection loss.
hard=(--hard-wrong 8 --wrong-ref 0.12)
$py $ml/seal_train.py --init $w/stage3.pt "${mix[@]}" "${hard[@]}" --seed 2 --lr 4e-4 --epochs 12 --stop-after 3 --patience 4 --out $w/stage4a.pt "$@"
$py $ml/seal_train.py --init $w/stage4a.pt "${mix[@]}" "${hard[@]}" --seed 3 --lr 3e-4 --epochs 6 --patience 3 --out $w/stage4b.pt "$@"
# 2.2.0: selection loss was still falling. Stage 5a is the first epoch of an 18-epoch schedule at 5e-4 (the
# run it came from was stopped at epoch 7: its peak rate lost ground on selection); 5b anneals 20 epochs
# from 3e-4 and keeps the epoch with the least selection loss (17: 0.309, 2.1.0 had 0.328).
$py $ml/seal_train.py --init $w/stage4b.pt "${mix[@]}" "${hard[@]}" --seed 4 --lr 5e-4 --epochs 18 --stop-after 1 --out $w/stage5a.pt "$@"
$py $ml/seal_train.py --init $w/stage5a.pt "${mix[@]}" "${hard[@]}" --seed 5 --lr 3e-4 --epochs 20 --patience 30 --out $w/full.pt "$@"
# Ablations on a shorter schedule (their rows say so): the same stages without attention, without the gain.
for ab in no-attention:--no-attention no-gain:"--alpha 0"; do
  name=${ab%%:*}; flag=${ab#*:}
  $py $ml/seal_train.py "${stage1[@]}" $flag --out $w/$name-stage1.pt "$@"
  $py $ml/seal_train.py --init $w/$name-stage1.pt "${mix[@]}" --lr 1e-3 --out $w/$name.pt --epochs 2 --max-minutes 8 "$@"
done
for m in full no-attention no-gain; do
  $py $ml/seal_evaluate.py --checkpoint $w/$m.pt --data $w/test --json $w/$m.eval.json
done
$py $ml/seal_export.py --checkpoint $w/full.pt --eval $w/full.eval.json --ablation $w/no-attention.eval.json \
  --ablation $w/no-gain.eval.json --out onnx/seal_classifier.onnx --version 2.2.0
cp $w/full.pt onnx/seal_classifier.pt  # the starting point of `--data` fine-tuning
# Recipe-disjoint figures (issue 18), measured after the fact: nothing above is chosen on them.
$py $ml/seal_eval_suite.py --model onnx/seal_classifier.onnx --out work/seal-eval/report.json --count 600 \
  --card-section work/seal-eval/card.md
$py $ml/seal_card.py --report onnx/seal_classifier.report.json --out onnx/seal_classifier.md \
  --generalization work/seal-eval/card.md
$py $ml/seal_fixtures.py --model onnx/seal_classifier.onnx --out tests/fixtures/seal
