#!/usr/bin/env bash
# Tests of the electrode training pipeline's pieces that need no training (the split by image, the export's
# parity verdict, metrics on a set missing a class). Not part of scripts/test.sh: they need the training
# Python (torch, numpy, Pillow): PYTHON, or .venv set up by scripts/setup-train.sh. A few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  bash scripts/setup-train.sh >&2
  PYTHON=$PWD/.venv/bin/python
fi
cd scripts/ml
"$PYTHON" -m unittest -v test_electrode_pipeline
