#!/usr/bin/env bash
# Runs an aarch64 command (the cross-built cellgate) on this x86-64 machine under qemu-user, the way it
# runs on a board, child processes included: the station vets each model file in a child of its own
# executable, which the kernel can only start through binfmt_misc. So the command runs in a user
# namespace with its own binfmt_misc instance (Linux >= 6.7) in which qemu-aarch64 runs aarch64 ELF
# files; the machine's binfmt_misc is not touched.
#
# The qemu prefix target/aarch64-qemu (QEMU_LD_PREFIX; qemu looks absolute paths up there first) holds the
# aarch64 loader and libc of Debian's libc6-arm64-cross, and a /proc/cpuinfo of ARM Cortex-A76 cores:
# ONNX Runtime's CPU detection reads /proc/cpuinfo, finds no ARM core in the host's x86 one and crashes
# (qemu 7.2 does not emulate that file).
#
#   scripts/qemu-aarch64.sh PROGRAM [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: qemu-aarch64.sh PROGRAM [ARGS...]" >&2; exit 2; }
prefix=$(cd "$(dirname "$0")/.." && pwd)/target/aarch64-qemu
qemu=$(command -v qemu-aarch64) || { echo "qemu-aarch64.sh: no qemu-aarch64 (bash scripts/setup.sh)" >&2; exit 1; }
[ -d /usr/aarch64-linux-gnu/lib ] ||
  { echo "qemu-aarch64.sh: no /usr/aarch64-linux-gnu/lib (bash scripts/setup.sh)" >&2; exit 1; }

mkdir -p "$prefix/proc"
ln -sfn /usr/aarch64-linux-gnu/lib "$prefix/lib"
cpus=$(nproc)
for ((i = 0; i < cpus; i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 50.00\n' "$i"
  printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n'
  printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n'
done >"$prefix/proc/cpuinfo.part"
mv "$prefix/proc/cpuinfo.part" "$prefix/proc/cpuinfo"

# aarch64 ELF executables: magic and mask as Debian's qemu-user-binfmt registers them.
magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
# A Cortex-A76 (the RK3588's big core, as the cpuinfo above says), not qemu's default "max" CPU, whose
# extras (SVE, pointer authentication...) qemu emulates slowly: the seal model's warm-up and self-test
# took 37 s with "max", 3.3 s as a Cortex-A76.
export QEMU_CPU=${QEMU_CPU:-cortex-a76}
export QEMU_LD_PREFIX=$prefix QEMU=$qemu MAGIC=$magic MASK=$mask
# shellcheck disable=SC2016 # expanded inside the namespace
exec unshare --user --map-root-user --mount bash -c '
  set -e
  fail() { echo "qemu-aarch64.sh: $1: needs a user namespace with its own binfmt_misc (Linux >= 6.7)" >&2; exit 1; }
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || fail "cannot mount binfmt_misc"
  printf "%s" ":qemu-aarch64:M::$MAGIC:$MASK:$QEMU:" >/proc/sys/fs/binfmt_misc/register 2>/dev/null ||
    fail "cannot register qemu-aarch64"
  exec "$@"' qemu-aarch64.sh "$@"
