#!/usr/bin/env bash
# The demo station on its embedded default: the bundled seal samples (made by scripts/ml/seal_render.py,
# seed 3) replayed through the whole station with simulated GPIO. Prints a verdict per part and a summary;
# results, the GPIO timeline and NG images land in target/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
mkdir -p target/demo
exec ./target/release/cellgate replay --config scripts/demo/station.json --images scripts/demo/seal "$@"
