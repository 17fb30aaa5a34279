#!/usr/bin/env bash
# Everything the firmware needs to build, run and test on a fresh Debian 12 machine with Rust, installed
# idempotently: the ONNX Runtime shared library, taken from the pinned `onnxruntime` wheel on PyPI, into
# the project-local .ort/ (the firmware finds it there; a station image installs its own); the Debian
# packages and Python lint tools the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: libclang-dev for the V4L2 bindings (bindgen); systemd's tools check the unit and lay
# down its user and folders in the tests; python3-venv holds the lint tools' environment; prometheus for
# promtool, which checks the station page's /metrics in the tests; chromium, the real browser that drives
# the page in the tests; mosquitto, the MQTT broker the fleet connection's tests start on a loopback port
# (its Debian service is not used; openssl, which they make a test CA with, comes with Debian). The HIL test's
# packages (qemu, busybox, kernel headers) are scripts/hil/kernel.sh's.
need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v systemd-analyze >/dev/null || need+=(systemd)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need+=(mosquitto)
command -v openssl >/dev/null || need+=(openssl)
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
