#!/usr/bin/env bash
# The electrode detector trained on a 2-core CPU in about an hour: the same data (train seed 1, held-out
# test seed 2) and architecture as scripts/train-electrode.sh, with a CPU recipe: batch 8, channels-last,
# the learning rate annealed over a wall-clock budget (MINUTES, default 55). Then the held-out evaluation.
# Not part of CI. Writes work/electrode/cpu-hour/{full.pt,full.log,full.eval.json}; the model card's CPU
# section is made from them: electrode_card.py ... --cpu-run full.eval.json --cpu-log full.log
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/electrode-sets.sh
out=$w/cpu-hour
mkdir -p "$out"
$py $ml/electrode_train.py --data $w/train --out $out/full.pt --variant full --seed 0 --epochs 30 --patience 6 \
  --batch 8 --lr 2e-3 --max-minutes "${MINUTES:-55}" --threads "$(nproc)" --cpu "$@" 2>&1 | tee $out/full.log
$py $ml/electrode_evaluate.py --checkpoint $out/full.pt --data $w/test --json $out/full.eval.json
