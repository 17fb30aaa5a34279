#!/usr/bin/env bash
# The station's models on an NVIDIA GPU, checked against the CPU. Not in CI (no GPU there).
#   scripts/gpu-check.sh ORT_GPU_DIR [OUT]
# ORT_GPU_DIR holds ONNX Runtime's GPU build (the `onnxruntime/capi/` folder of the `onnxruntime-gpu`
# wheel, or JetPack's libraries); the CUDA libraries it needs must be on LD_LIBRARY_PATH. For both demo
# stations it shows the provider each model really runs on (tensorrt, then cuda, then cpu), replays the
# demo samples on the GPU and on the CPU and compares their verdicts and scores part by part, then runs
# `cellgate bench` on the GPU. CELLGATE names the executable (default target/release/cellgate).
set -euo pipefail
cd "$(dirname "$0")/.."
gpu_dir=$(realpath "${1:?usage: scripts/gpu-check.sh ORT_GPU_DIR [OUT]}")
out=$(realpath -m "${2:-target/gpu-check}")
cellgate=$(realpath "${CELLGATE:-target/release/cellgate}")
lib=$(ls "$gpu_dir"/libonnxruntime.so* | head -n1)
mkdir -p "$out"
command -v nvidia-smi >/dev/null && nvidia-smi -L

# A copy of a demo config beside it (its relative paths stay valid) with other providers and with its
# records under $out.
variant() { # demo-config name providers-json
  python3 - "$1" "$2" "$3" "$lib" "$out" <<'EOF'
import json, sys
from pathlib import Path
src, name, providers, lib, out = sys.argv[1:]
cfg = json.loads(Path(src).read_text())
cfg["runtime"].update(providers=json.loads(providers), library=lib,
                      tensorrt={"engine_cache": f"{out}/trt-cache", "fp16": False})
cfg["gpio"]["timeline"] = f"{out}/{name}.gpio.jsonl"
cfg["records"] = {"results": f"{out}/{name}.results.jsonl"}
cfg["model_updates"] = {"watch": False, "state_dir": f"{out}/{name}.models"}
dst = Path(src).with_name(f".gpu-check.{name}.json")
dst.write_text(json.dumps(cfg, indent=1))
print(dst)
EOF
}
trap 'rm -f scripts/demo/.gpu-check.*.json' EXIT

for demo in seal electrode; do
  src=scripts/demo/station.json
  [ $demo = electrode ] && src=scripts/demo/electrode.json
  cpu=$(variant $src $demo-cpu '["cpu"]')
  gpu=$(variant $src $demo-gpu '["tensorrt", "cuda", "cpu"]')
  rm -f "$out/$demo"-{cpu,gpu}.results.jsonl
  echo "=== $demo: models"
  model=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inspection"]["model"])' $src)
  "$cellgate" models inspect --config "$gpu" "scripts/demo/$model" | grep -E '^(name|provider)'
  echo "=== $demo: replay on the CPU, then on the GPU"
  for cfg in "$cpu" "$gpu"; do
    "$cellgate" replay --config "$cfg" --images scripts/demo/$demo --rate 20 --quiet 2>&1 | grep -E 'runs on|on (cpu|cuda|tensorrt)|^parts|^latency|^labels'
  done
  python3 - "$out/$demo-cpu.results.jsonl" "$out/$demo-gpu.results.jsonl" <<'EOF'
import json, sys
runs = [[json.loads(l) for l in open(p)] for p in sys.argv[1:]]
a, b = ({(r["part"], r.get("cavity", 0)): r for r in run} for run in runs)
same = sum(a[k]["verdict"] == b[k]["verdict"] for k in a if k in b)
def score(r):  # seal: the NG probability; electrode: each detection's score, in order
    return [r["p_ng"]] if "p_ng" in r else [d["score"] for d in r.get("defects", [])]
diffs = [abs(x - y) for k in a if k in b for x, y in zip(score(a[k]), score(b[k]))]
counts = sum(len(score(a[k])) != len(score(b[k])) for k in a if k in b)
provider = {r["model"]["provider"] for r in runs[1]}
print(f"gpu ({', '.join(sorted(provider))}) vs cpu: {same}/{len(a)} verdicts equal, "
      f"{counts} parts with another number of detections, max score difference {max(diffs, default=0):.2e}")
EOF
  echo "=== $demo: bench on the GPU"
  "$cellgate" bench --config "$gpu" --parts "${PARTS:-3000}" 2>&1 | grep -v INFO
done
