#!/usr/bin/env bash
# The aarch64 release binary (Jetson, RK3588), target/aarch64-unknown-linux-gnu/release/cellgate, linked
# by Debian's cross gcc (scripts/setup.sh installs it and the rustup target); cargo keeps the build, so a
# second call only relinks what changed. scripts/test-aarch64.sh and scripts/release.sh call it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}
exec cargo build --release --quiet --target aarch64-unknown-linux-gnu
