#!/usr/bin/env bash
# The electrode detector trained on a 2-core CPU in about an hour: the same data (train seed 1, held-out
# test seed 2) and architecture as scripts/train-electrode.sh, with a CPU recipe: batch 8, channels-last,
# learning rate 4e-3, images showing an inclusion drawn 3 times as often (chosen on a seed-3 selection set),
# the learning rate annealed over a wall-clock budget (MINUTES, default 55). Then the held-out evaluation at
# the trained model's threshold, a threshold sweep on the selection set (seed 3), and the held-out evaluation
# at the threshold chosen there. Not part of CI. Writes work/electrode/cpu-hour/{full.pt,full.log,
# full.eval.json,full.sweep.json,full.tuned.eval.json}; the model card's CPU section is made from them:
# electrode_card.py ... --cpu-run full.eval.json --cpu-log full.log --cpu-sweep ... --cpu-tuned ...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/electrode-sets.sh
out=$w/cpu-hour
mkdir -p "$out"
$py $ml/electrode_train.py --data $w/train --out $out/full.pt --variant full --seed 0 --epochs 30 --patience 6 \
  --batch 8 --lr 4e-3 --oversample inclusion=3 --max-minutes "${MINUTES:-55}" --threads "$(nproc)" --cpu "$@" 2>&1 | tee $out/full.log
$py $ml/electrode_evaluate.py --checkpoint $out/full.pt --data $w/test --json $out/full.eval.json
[ -f $w/select/annotations.json ] || $py $ml/electrode_render.py --look classic --out $w/select --count 1000 --seed 3 --workers "$(nproc)"
$py $ml/electrode_evaluate.py --checkpoint $out/full.pt --data $w/select --sweep 0.2,0.25,0.3,0.35,0.4,0.45,0.5 \
  --json $out/full.sweep.json
$py $ml/electrode_evaluate.py --checkpoint $out/full.pt --data $w/test --threshold-from $out/full.sweep.json \
  --json $out/full.tuned.eval.json
