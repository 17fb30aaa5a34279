#!/usr/bin/env bash
# The electrode detector, trained two ways. Not part of CI. Uses a GPU when PyTorch sees one.
# PYTHON=python3 uses an existing interpreter that has torch, onnx, onnxruntime, numpy and pillow.
#
# Without --data: re-makes the shipped model from seeds: data (train seed 1, held-out test seed 2), the three
# ablation rows of the paper's table, evaluation, export with parity check, model card, golden fixtures.
# Arguments go to electrode_train.py (e.g. --epochs 18). A 2-core CPU has its own recipe: train-electrode-cpu.sh.
#
# With --data DIR: one command on a user's labelled pairs (any DESIGN COCO folder, any image size, classes may
# be missing):
#   train-electrode.sh --data DIR [--minutes N] [--from CHECKPOINT] [--out DIR] [--seed N] [--ship]
#                      [--zero-shot DIR [LABEL]]... [--few-shot EVAL.json [LABEL]]... [-- TRAIN_ARGS...]
# splits DIR by image into train / selection / held-out (OUT/split), trains within --minutes (default 15 for
# up to 300 pairs, else 55) from CHECKPOINT (default onnx/electrode_detector.pt; from scratch when that file is
# absent), chooses the score threshold on the selection split, exports OUT/electrode_detector.onnx, scores it
# on the held-out split (and on each --zero-shot folder) and writes the model card OUT/electrode_detector.md.
# OUT defaults to work/electrode/user; --ship also copies the model, its checkpoint, card and report to onnx/.
set -euo pipefail
cd "$(dirname "$0")/.."

user_run() {
  local data="" minutes="" start="" start_given=0 out=work/electrode/user seed=0 ship=0 command="$*"
  local -a zero=() few=() extra=() notes=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --data) data=$2; shift 2 ;;
      --minutes) minutes=$2; shift 2 ;;
      --from) start=$2; start_given=1; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --seed) seed=$2; shift 2 ;;
      --ship) ship=1; shift ;;
      --zero-shot|--few-shot)  # PATH, then an optional LABEL (any word not starting with --)
        local label n=2
        label=$(basename "$2")
        if [ $# -ge 3 ] && [ "${3#--}" = "$3" ]; then label=$3; n=3; fi
        if [ "$1" = --zero-shot ]; then zero+=("$2" "$label"); else few+=("$2" "$label"); fi
        shift $n ;;
      --) shift; extra=("$@"); break ;;
      *) echo "train-electrode.sh: unknown argument '$1' (see the comment at the top of the script)" >&2; exit 2 ;;
    esac
  done
  [ -n "$data" ] || { echo "train-electrode.sh: --data needs a folder" >&2; exit 2; }
  if [ -z "${PYTHON:-}" ]; then
    bash scripts/setup-train.sh
    PYTHON=.venv/bin/python
  fi
  local -a recipe=(--batch 8 --lr 4e-3 --oversample inclusion=3)  # train-electrode-cpu.sh's recipe
  if [ $start_given = 0 ]; then start=onnx/electrode_detector.pt; fi
  if [ -f "$start" ]; then
    recipe=(--batch 8 --lr 2e-3 --from "$start")  # half the learning rate: the weights are trained already
  elif [ $start_given = 1 ]; then
    echo "train-electrode.sh: --from $start: no such file" >&2; exit 2
  else
    echo "train-electrode.sh: NOTE: $start (the shipped model's checkpoint) is absent: training from scratch" >&2
    notes+=(--note "$start (the shipped model's checkpoint) was absent: trained from scratch.")
  fi
  local py=$PYTHON ml=scripts/ml began=$SECONDS
  mkdir -p "$out"
  $py $ml/electrode_split.py --data "$data" --out "$out/split" --seed "$seed"
  local images
  images=$($py -c 'import json, sys; print(json.load(open(sys.argv[1]))["images"])' "$out/split/split.json")
  [ -n "$minutes" ] || { if [ "$images" -le 300 ]; then minutes=15; else minutes=55; fi; }
  # Every epoch is a candidate (best selection-split loss is kept), so the whole budget is used: the learning
  # rate anneals over it, and no early stop cuts the anneal short.
  $py $ml/electrode_train.py --data "$out/split/train" --val-data "$out/split/select" \
    --out "$out/electrode_detector.pt" --variant full --seed 0 --epochs 10000 --patience 10000 \
    --max-minutes "$minutes" --threads "$(nproc)" "${recipe[@]}" "${extra[@]}" 2>&1 | tee "$out/train.log"
  $py $ml/electrode_evaluate.py --checkpoint "$out/electrode_detector.pt" --data "$out/split/select" \
    --sweep 0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7 --json "$out/select.sweep.json"
  $py $ml/electrode_evaluate.py --checkpoint "$out/electrode_detector.pt" --data "$out/split/test" \
    --threshold-from "$out/select.sweep.json" --json "$out/heldout.pt.eval.json"
  local thr
  thr=$($py -c 'import json, sys; print(json.load(open(sys.argv[1]))["score_threshold"])' "$out/heldout.pt.eval.json")
  $py $ml/electrode_export.py --checkpoint "$out/electrode_detector.pt" --eval "$out/heldout.pt.eval.json" \
    --data "$out/split/test" --out "$out/electrode_detector.onnx" --threshold "$thr" \
    --version "user-$(date -u +%Y%m%dT%H%MZ)" --generator "labelled pairs from $data"
  $py $ml/electrode_evaluate.py --model "$out/electrode_detector.onnx" --data "$out/split/test" \
    --json "$out/heldout.eval.json"
  local -a card=()
  local i
  for ((i = 0; i < ${#zero[@]}; i += 2)); do
    $py $ml/electrode_evaluate.py --model "$out/electrode_detector.onnx" --data "${zero[i]}" \
      --json "$out/zero-shot-$((i / 2)).eval.json"
    card+=(--zero-shot "$out/zero-shot-$((i / 2)).eval.json" "${zero[i + 1]}")
  done
  for ((i = 0; i < ${#few[@]}; i += 2)); do card+=(--few-shot "${few[i]}" "${few[i + 1]}"); done
  $py $ml/electrode_card.py --report "$out/electrode_detector.report.json" --split "$out/split/split.json" \
    --sweep "$out/select.sweep.json" --heldout "$out/heldout.eval.json" --out "$out/electrode_detector.md" \
    --command "scripts/train-electrode.sh $command" "${notes[@]}" "${card[@]}"
  if [ $ship = 1 ]; then
    for f in onnx pt md report.json; do cp "$out/electrode_detector.$f" "onnx/electrode_detector.$f"; done
    echo "shipped: onnx/electrode_detector.{onnx,pt,md,report.json}"
  fi
  echo "model: $out/electrode_detector.onnx  card: $out/electrode_detector.md  ($(((SECONDS - began) / 60)) min in all)"
}

for arg in "$@"; do
  case "$arg" in
    --data) user_run "$@"; exit ;;
    --data=*) echo "train-electrode.sh: write --data DIR (two words)" >&2; exit 2 ;;
  esac
done

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
