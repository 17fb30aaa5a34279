#!/usr/bin/env bash
# Hardware-in-the-loop test: the station on the kernel's own vivid camera and gpio-sim chip, in a VM
# (qemu, software emulation). Builds what it needs into .hil/ (cached), boots, and fails loudly unless
# every check in scripts/hil/guest.sh passed and the recorded pulses match the parts.
# Usage: scripts/hil/run.sh [CELLGATE_BINARY]   (default: target/debug/cellgate, built if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
abi=$(bash scripts/hil/kernel.sh | tail -1)
bin=${1:-target/debug/cellgate}
[ -x "$bin" ] || cargo build -q
ort=.ort/libonnxruntime.so
[ -f $ort ] || { echo "hil: $ort missing (scripts/setup.sh installs it)" >&2; exit 1; }
# vivid test patterns for the good and the bad part. The shipped seal model has never seen test patterns;
# these are a pair it judges clearly (checked on the host by tests/hostile_models.rs, and by this test):
# vivid's horizontal colour bars (pattern 3, bands like a seal's) against a reference of them is OK, its 75%
# vertical colour bars (pattern 0) are NG; with the reference check on (plausibility.min_reference_similarity)
# they are refused as another scene before the model sees them, which rejects them too. (Model 2.0.0 was
# unsure of 16x16 checkers against themselves, so its self-test refused that reference.)
bash scripts/hil/initramfs.sh "$abi" "$bin" "$ort" "${HIL_OK_PATTERN:-3}" "${HIL_NG_PATTERN:-0}" .hil/initramfs.cpio.gz
# Software emulation by default: this kind of machine has a /dev/kvm that qemu cannot use (PVM host).
# A CPU model without AVX: with `-cpu max` ONNX Runtime picks its AVX2/FMA kernels, which qemu's TCG runs
# through helper calls, 5-6x slower than the SSE4.2 ones (seal inference 6 s against 1 s, measured).
accel=${HIL_ACCEL:-tcg}
echo "hil: booting Debian $abi under qemu ($accel) with vivid and gpio-sim"
start=$(date +%s)
set +e
timeout "${HIL_TIMEOUT:-1800}" qemu-system-x86_64 -machine accel=$accel -cpu "${HIL_CPU:-Nehalem}" -smp 2 -m 2048 -nographic \
  -no-reboot -kernel .hil/kernel-$abi/boot/vmlinuz-$abi -initrd .hil/initramfs.cpio.gz \
  -append 'console=ttyS0 quiet loglevel=3 panic=-1' > .hil/console.log 2>&1
qrc=$?
set -e
tr -d '\r' < .hil/console.log > .hil/console.txt
grep -E '^HIL (ok|FAIL)' .hil/console.txt || true
echo "hil: VM ran $(($(date +%s) - start)) s (qemu exit $qrc)"
python3 scripts/hil/check_timeline.py .hil/console.txt
