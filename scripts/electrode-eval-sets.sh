#!/usr/bin/env bash
# Renders the electrode evaluation sets of the second, independently written renderer
# (scripts/ml/electrode_render_b.py) under work/electrode-eval/ when they are missing, and prints each
# set's per-class defect counts:
#   b    300 pairs, seed 101, 320x320, 8-bit X-ray, uncompressed RLE labels
#   b16  300 pairs, seed 102, 384x256, 16-bit X-ray (mode I;16), compressed RLE labels
# TEST ONLY: these stand in for a factory nothing in the project has seen. Never train on them and never
# use them for any choice (threshold, epoch, hyper-parameter, model): they only measure a finished model.
#   b-few  200 pairs, seed 103, 320x320, 8-bit: the few-shot measurement's stand-in for a line's own
#          labelled pairs (`train-electrode.sh --data` fine-tunes on it as a user would, choosing only on its
#          own selection split); the model it makes is then measured on b. Nothing else trains on it.
# Needs numpy and Pillow (scripts/setup-eval.sh); WORK overrides the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-$(bash scripts/setup-eval.sh)}
w=${WORK:-work/electrode-eval}
render() { # name seed size bits rle count
  [ -f "$w/$1/annotations.json" ] || "$py" scripts/ml/electrode_render_b.py --out "$w/$1" --count "${6:-300}" \
    --seed "$2" --size "$3" --xray-bits "$4" --rle "$5" --workers "$(nproc)" >/dev/null
}
render b 101 320x320 8 counts
render b16 102 384x256 16 compressed
render b-few 103 320x320 8 counts 200
for s in b b16 b-few; do
  "$py" - "$w/$s" <<'PY'
import json, sys
from pathlib import Path
coco = json.loads((Path(sys.argv[1]) / "annotations.json").read_text())
info = coco["info"]
names = {c["id"]: c["name"] for c in coco["categories"]}
counts = {n: 0 for n in names.values()}
for a in coco["annotations"]:
    counts[names[a["category_id"]]] += 1
labelled = {a["image_id"] for a in coco["annotations"]}
free = sum(im["id"] not in labelled for im in coco["images"])
w, h = info["size"]
print(f"{sys.argv[1]}: {len(coco['images'])} pairs {w}x{h}, {info['xray_bits']}-bit X-ray, seed {info['seed']}, "
      f"{len(coco['annotations'])} defects {counts}, {free} defect-free")
PY
done
