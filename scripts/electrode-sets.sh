# Sourced by the electrode training scripts (from the repository root): sets $py (the training Python,
# set up when PYTHON is not given), $ml and $w, and renders the train set (seed 1) and the held-out test
# set (seed 2) under $w when they are missing.
if [ -z "${PYTHON:-}" ]; then
  bash scripts/setup-train.sh
  PYTHON=.venv/bin/python
fi
py=$PYTHON
ml=scripts/ml
w=${WORK:-work/electrode}
[ -f $w/train/annotations.json ] || $py $ml/electrode_render.py --look classic --out $w/train --count 4000 --seed 1 --workers "$(nproc)"
[ -f $w/test/annotations.json ] || $py $ml/electrode_render.py --look classic --out $w/test --count 1000 --seed 2 --workers "$(nproc)"
