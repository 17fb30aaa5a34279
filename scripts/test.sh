#!/usr/bin/env bash
# The project's tests: formatting, lints, and every Rust test (unit, golden parity with the Python
# fixtures, end-to-end station runs on the real ONNX Runtime with the shipped model, the systemd unit and
# installer), and the Yocto layer lint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
bash scripts/lint-yocto.sh
cargo test --quiet 2>&1
