#!/usr/bin/env bash
# The project's tests: formatting, lints, and every Rust test (unit, golden parity with the Python
# fixtures, end-to-end station runs on the real ONNX Runtime with the shipped model, the systemd unit and
# installer), the aarch64 step (scripts/test-aarch64.sh: the cross-built release binary under qemu-user
# judges the demo sets as the x86-64 build does, and its release tarball installs), the x86-64 release
# tarball's install check (scripts/test-release.sh; builds the release binary), the Yocto layer lint,
# the Python tests of the renderers and evaluation tools
# (scripts/test-seal-eval.sh: numpy, Pillow, ONNX Runtime, no PyTorch; under a minute), and the
# hardware-in-the-loop test (the station on the kernel's vivid camera and gpio-sim chip in a VM, about a
# minute).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
python3 scripts/import-cycles.py >/dev/null  # no import cycle through config (issue 20)
python3 -c "import ast; ast.parse(open('scripts/bench_python.py').read())"  # the bench carries it: it must parse
bash scripts/lint-yocto.sh
cargo test --quiet 2>&1
bash scripts/test-aarch64.sh
bash scripts/test-release.sh x86_64
bash scripts/test-seal-eval.sh
bash scripts/hil/run.sh target/debug/cellgate
