#!/usr/bin/env bash
# Tests of the seal evaluation tools (second renderer, held-out recipes of the training renderer, the
# suite's firmware resize and wrong-reference pairing), of the training recipe distribution and of the
# two electrode renderers (electrode_render.py's looks, electrode_render_b.py). scripts/test.sh runs it;
# it needs numpy, Pillow and ONNX Runtime, which setup.sh does not install, so it sets up .venv-eval
# (scripts/setup-eval.sh) first. Under a minute on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/setup-eval.sh)
cd scripts/ml
"../../$py" -m unittest -v test_cellgate_evaluate test_seal_render_b test_seal_eval_suite test_seal_recipes test_electrode_render test_electrode_render_b
