#!/usr/bin/env bash
# Tests of the seal evaluation tools (second renderer, held-out recipes of the training renderer, the
# suite's firmware resize and wrong-reference pairing), of the training recipe distribution and of the
# second electrode renderer (scripts/ml/electrode_render_b.py).
# Not part of scripts/test.sh: they need numpy and Pillow, which setup.sh does not install; this script
# sets up .venv-eval (scripts/setup-eval.sh) first. About 25 s.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/setup-eval.sh)
cd scripts/ml
"../../$py" -m unittest -v test_seal_render_b test_seal_eval_suite test_seal_recipes test_electrode_render test_electrode_render_b
