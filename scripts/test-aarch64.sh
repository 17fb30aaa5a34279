#!/usr/bin/env bash
# The aarch64 test step (Jetson, RK3588): cross-builds the release binary (cached in
# target/aarch64-unknown-linux-gnu/), runs `cellgate evaluate` on demo sets under qemu-user
# (scripts/qemu-aarch64.sh) with the aarch64 ONNX Runtime, and the same with the x86-64 debug binary, and
# compares every sample's verdict (equal) and score and every figure (within 1e-4):
# scripts/compare-evaluations.py. Then it checks the aarch64 release tarball (scripts/test-release.sh).
# scripts/test.sh runs it after cargo test (which built target/debug/cellgate); setup.sh installs its tools.
#
#   AARCH64_SETS=seal bash scripts/test-aarch64.sh     default: seal electrode
#
# Emulated, the electrode detector takes 17-22 s a part (the 8 samples about 2.3 min): evaluate judges
# offline, every part however long it waits, so the verdicts still compare.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=aarch64-unknown-linux-gnu
out=target/aarch64-test
x86=target/debug/cellgate
arm=target/$target/release/cellgate
lib=$root/.ort-aarch64/libonnxruntime.so

stamp() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f s", b - a }'; }
fail() { echo "test-aarch64: $*" >&2; exit 1; }

command -v qemu-aarch64 >/dev/null || fail "no qemu-aarch64 (bash scripts/setup.sh)"
command -v aarch64-linux-gnu-gcc >/dev/null || fail "no aarch64-linux-gnu-gcc (bash scripts/setup.sh)"
[ -d "$(rustc --print sysroot)/lib/rustlib/$target" ] ||
  fail "no Rust standard library for $target: rustup target add $target (README, aarch64)"
[ -f "$lib" ] || fail "no aarch64 ONNX Runtime at $lib (bash scripts/setup.sh)"
[ -x "$x86" ] || fail "no $x86 (cargo build first; scripts/test.sh runs cargo test before this step)"

t=$(stamp)
bash scripts/cross-build.sh
echo "test-aarch64: release build for $target: $(took "$t")"

sets=${AARCH64_SETS:-seal electrode}
# The demo configs as they are (their relative paths resolve from a folder two levels down, beside
# links to the demo sets), each with runtime.library set to the architecture's ONNX Runtime. Emulated,
# the model load (vetting, warm-up and self-test) takes minutes: the aarch64 runs get the longest the
# config allows.
mkdir -p "$out"
x86_lib=$root/.ort/libonnxruntime.so
for set in $sets; do
  case "$set" in
    seal) demo=scripts/demo/station.json ;;
    electrode) demo=scripts/demo/electrode.json ;;
    *) fail "unknown set $set in AARCH64_SETS (seal, electrode)" ;;
  esac
  ln -sfn "../../scripts/demo/$set" "$out/$set"
  jq --arg lib "$x86_lib" '.runtime.library = $lib' "$demo" >"$out/$set-x86.json"
  jq --arg lib "$lib" '.runtime.library = $lib | .model_updates.load_timeout_ms = 600000' "$demo" >"$out/$set-aarch64.json"
done

evaluate() { # SET ARCH COMMAND...
  local set=$1 arch=$2 t
  shift 2
  t=$(stamp)
  rm -f "$out/$set-$arch.result.json"
  if "$@" evaluate --config "$out/$set-$arch.json" --data "scripts/demo/$set" --json "$out/$set-$arch.result.json" \
    >"$out/$set-$arch.log" 2>&1; then
    echo "test-aarch64: $set evaluate, $arch: $(took "$t")"
  else
    echo "test-aarch64: $set evaluate, $arch FAILED ($out/$set-$arch.log):" >&2
    tail -20 "$out/$set-$arch.log" >&2
    return 1
  fi
}
# The x86-64 runs beside the emulated ones; the emulated ones one after the other: two at once starved each other on 2 cores until parts
# passed their reject point.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
t=$(stamp)
pids=()
for set in $sets; do
  evaluate "$set" x86 "$x86" &
  pids+=($!)
done
failed=0
for set in $sets; do
  evaluate "$set" aarch64 bash scripts/qemu-aarch64.sh "$arm" || failed=1
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ $failed = 0 ] || fail "an evaluation failed"
echo "test-aarch64: the evaluations ($sets): $(took "$t")"
for set in $sets; do
  python3 scripts/compare-evaluations.py --label "$set aarch64 vs x86-64" \
    "$out/$set-x86.result.json" "$out/$set-aarch64.result.json" || fail "$set: aarch64 and x86-64 differ"
done

# The comparison must be able to fail: a verdict flipped and a score moved by twice the tolerance, each
# in a copy of the x86 result, are each caught.
jq '.per_sample[0].verdict = (if .per_sample[0].verdict == "ok" then "ng" else "ok" end)' \
  "$out/${sets%% *}-x86.result.json" >"$out/doctored-verdict.json"
jq '.per_sample[0].p_ng += 2e-4' "$out/${sets%% *}-x86.result.json" >"$out/doctored-score.json"
for d in verdict score; do
  if python3 scripts/compare-evaluations.py "$out/${sets%% *}-x86.result.json" "$out/doctored-$d.json" >/dev/null 2>&1; then
    fail "the comparison did not catch a doctored $d"
  fi
done
echo "test-aarch64: the comparison catches a flipped verdict and a score moved by 2e-4"

# The aarch64 release tarball, reusing the build above.
bash scripts/test-release.sh aarch64
