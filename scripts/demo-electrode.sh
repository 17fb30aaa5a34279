#!/usr/bin/env bash
# The electrode demo station: the bundled visible + X-ray pairs (scripts/ml/electrode_render.py, seed 5) replayed
# through the whole station with simulated GPIO: crack, foreign object, inclusion and large scratches fire the
# reject output, dark spots the marker output. Prints a verdict per part and a summary; results (every defect
# with class, score, box and area), the GPIO timeline and the annotated NG pictures land in target/demo-electrode/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
mkdir -p target/demo-electrode
exec ./target/release/cellgate replay --config scripts/demo/electrode.json --images scripts/demo/electrode "$@"
