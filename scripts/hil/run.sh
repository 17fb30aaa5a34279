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
# One boot of the guest; its exit status, or 200 when the guest's kernel wedged. Once in 24 CI runs both
# vCPUs sat in the guest kernel for good ("soft lockup ... stuck for 900s") with no check failed: a stall of
# the emulation, not of the station, whose checks then never run. A lockup over 100 s ends the boot then,
# rather than at the 30-minute timeout.
boot() {
  timeout -k 30 "${HIL_TIMEOUT:-1800}" qemu-system-x86_64 -machine accel=$accel -cpu "${HIL_CPU:-Nehalem}" -smp 2 -m 2048 -nographic \
    -no-reboot -kernel .hil/kernel-$abi/boot/vmlinuz-$abi -initrd .hil/initramfs.cpio.gz \
    -append 'console=ttyS0 quiet loglevel=3 panic=-1' > .hil/console.log 2>&1 &
  qemu=$!
  while kill -0 $qemu 2>/dev/null; do
    if grep -qE 'soft lockup - CPU#[0-9]+ stuck for [0-9]{3,}s' .hil/console.log; then
      kill $qemu
      wait $qemu
      qemu=
      return 200
    fi
    sleep 5
  done
  wait $qemu
  local rc=$?
  qemu=
  return $rc
}
# A run stopped from outside (CI cancelled, ^C) takes its guest with it.
qemu=
trap '[ -z "$qemu" ] || kill $qemu 2>/dev/null || true' EXIT
echo "hil: booting Debian $abi under qemu ($accel) with vivid and gpio-sim"
start=$(date +%s)
set +e
boot
qrc=$?
if [ $qrc = 200 ]; then
  # Booted once more, and only once: the console of the stalled boot is kept, and a second stall fails.
  # (A check that failed before the stall fails the run: no second boot then.)
  cp .hil/console.log .hil/console-stalled.log
  grep -a 'soft lockup' .hil/console-stalled.log | tr -d '\r' | tail -n 4
  if grep -aq '^HIL FAIL' .hil/console-stalled.log; then
    echo "hil: the guest's kernel stalled after a check had failed (console in .hil/console-stalled.log)"
  else
    echo "hil: the guest's kernel stalled (soft lockup over 100 s; console in .hil/console-stalled.log): booting once more"
    start=$(date +%s)
    boot
    qrc=$?
  fi
fi
set -e
tr -d '\r' < .hil/console.log > .hil/console.txt
grep -E '^HIL (ok|FAIL)' .hil/console.txt || true
echo "hil: VM ran $(($(date +%s) - start)) s (qemu exit $qrc)"
python3 scripts/hil/check_timeline.py .hil/console.txt
