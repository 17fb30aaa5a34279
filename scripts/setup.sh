#!/usr/bin/env bash
# Everything the firmware needs to build, run and test on a fresh Debian 12 machine with Rust, installed
# idempotently: the ONNX Runtime shared library, taken from the pinned `onnxruntime` wheel on PyPI, into
# the project-local .ort/ (the firmware finds it there; a station image installs its own).
set -euo pipefail
cd "$(dirname "$0")/.."

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
