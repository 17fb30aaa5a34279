#!/usr/bin/env bash
# Everything the firmware needs to build, run and test on a fresh Debian 12 machine with Rust, installed
# idempotently: the ONNX Runtime shared library, taken from the pinned `onnxruntime` wheel on PyPI, into
# the project-local .ort/ (the firmware finds it there; a station image installs its own); the Debian
# packages and Python lint tools the tests use; the aarch64 cross tools and ONNX Runtime library the
# aarch64 test step (scripts/test-aarch64.sh) and scripts/release.sh use.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: libclang-dev for the V4L2 bindings (bindgen); systemd's tools check the unit and lay
# down its user and folders in the tests; python3-venv holds the lint tools' environment; prometheus for
# promtool, which checks the station page's /metrics in the tests; chromium, the real browser that drives
# the page in the tests; mosquitto, the MQTT broker the fleet connection's tests start on a loopback port
# (its Debian service is not used; openssl, which they make a test CA with, comes with Debian); the aarch64
# linker and libc, and qemu-user that runs the aarch64 binary in the tests. The HIL test's packages (qemu
# system, busybox, kernel headers) are scripts/hil/kernel.sh's.
need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v systemd-analyze >/dev/null || need+=(systemd)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need+=(mosquitto)
command -v openssl >/dev/null || need+=(openssl)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
dpkg -s libc6-dev-arm64-cross >/dev/null 2>&1 || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v file >/dev/null || need+=(file)  # release.sh checks the packed binary's and library's architecture
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: apt-get install ${need[*]}" >&2
  $sudo apt-get update -q && $sudo apt-get install -y -q "${need[@]}"
fi

# Lint tools (Python, pinned) in a project-local environment: oelint-adv for the Yocto layer.
OELINT_VERSION=9.11.2
if ! .venv-ci/bin/oelint-adv --version 2>/dev/null | grep -q "$OELINT_VERSION"; then
  echo "setup: oelint-adv $OELINT_VERSION -> .venv-ci/" >&2
  python3 -m venv .venv-ci
  .venv-ci/bin/pip install -q "oelint-adv==$OELINT_VERSION"
fi

ORT_VERSION=1.32.0
lib=.ort/libonnxruntime.so
if [ ! -f "$lib" ] || [ "$(cat .ort/VERSION 2>/dev/null)" != "$ORT_VERSION" ]; then
  echo "setup: ONNX Runtime $ORT_VERSION from PyPI -> .ort/" >&2
  rm -rf .ort && mkdir -p .ort/wheel
  python3 -m pip download -q --no-deps --only-binary=:all: -d .ort/wheel "onnxruntime==$ORT_VERSION"
  python3 - "$ORT_VERSION" <<'PY'
import glob, sys, zipfile
whl = glob.glob(".ort/wheel/onnxruntime-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so"))
    with z.open(name) as src, open(".ort/libonnxruntime.so", "wb") as dst:
        dst.write(src.read())
open(".ort/VERSION", "w").write(sys.argv[1])
PY
  rm -rf .ort/wheel
fi

# The aarch64 standard library for cross builds (Jetson, RK3588). Only rustup provides it; without rustup
# (e.g. Debian's own rustc, too old anyway) the aarch64 test step cannot run: README "aarch64" says what to do.
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
else
  echo "setup: no rustup, aarch64 target skipped (install rustup, then: rustup target add aarch64-unknown-linux-gnu)" >&2
fi

# ONNX Runtime for aarch64: the same version from its manylinux_2_28_aarch64 wheel (cp312: the library in
# it is the same for every Python), into .ort-aarch64/. pip checks the wheel against the pinned sha256
# (PyPI's, onnxruntime-1.32.0-cp312-cp312-manylinux_2_28_aarch64.whl) and refuses any other file.
ORT_AARCH64_SHA256=e36c187006e7a7c8b8d6d57f1a209dd63f52430dca6c282b177718ad6b841054
if [ ! -f .ort-aarch64/libonnxruntime.so ] || [ "$(cat .ort-aarch64/VERSION 2>/dev/null)" != "$ORT_VERSION" ]; then
  echo "setup: ONNX Runtime $ORT_VERSION (aarch64) from PyPI -> .ort-aarch64/" >&2
  rm -rf .ort-aarch64 && mkdir -p .ort-aarch64/wheel
  echo "onnxruntime==$ORT_VERSION --hash=sha256:$ORT_AARCH64_SHA256" >.ort-aarch64/wheel/requirements.txt
  python3 -m pip download -q --no-deps --only-binary=:all: --require-hashes --platform manylinux_2_28_aarch64 \
    --python-version 3.12 --implementation cp -d .ort-aarch64/wheel -r .ort-aarch64/wheel/requirements.txt
  python3 - <<'PY'
import glob, zipfile
whl = glob.glob(".ort-aarch64/wheel/onnxruntime-*aarch64.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so"))
    with z.open(name) as src, open(".ort-aarch64/libonnxruntime.so.part", "wb") as dst:
        dst.write(src.read())
PY
  # Written whole or not at all: a broken download leaves no library that looks installed.
  mv .ort-aarch64/libonnxruntime.so.part .ort-aarch64/libonnxruntime.so
  echo "$ORT_VERSION" >.ort-aarch64/VERSION
  rm -rf .ort-aarch64/wheel
fi
