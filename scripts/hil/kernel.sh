#!/usr/bin/env bash
# Gets what the hardware-in-the-loop VM boots, into .hil/ (idempotent, cached between runs):
# - Debian 12's current 6.12 amd64 kernel image (bookworm-security) and its modules (vivid and its
#   dependencies, configfs): the photo-eye check removes a GPIO chip under the running station, and
#   6.12's removal path (SRCU since 6.9) is the one current boards run.
# - gpio-sim, which Debian does not build: compiled out of tree for that exact kernel from Debian's
#   linux-source and linux-headers packages, bundled with the interrupt simulator it needs.
# Prints the kernel ABI on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
H=.hil
# HIL_KERNEL_SERIES=6.1 boots bookworm's own kernel instead (the photo-eye removal check needs 6.9+).
series=${HIL_KERNEL_SERIES:-6.12}
mkdir -p $H/cache
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for p in qemu-system-x86 busybox-static kmod xz-utils; do dpkg -s $p >/dev/null 2>&1 || need+=($p); done
if [ ${#need[@]} -gt 0 ]; then
  sudo_ apt-get update -q >/dev/null || true
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
abi=$(cat $H/cache/abi-$series 2>/dev/null || true)
if [ -z "$abi" ]; then
  # bookworm's own kernel has the plain meta-package; a newer series its own (linux-image-6.12-amd64).
  case $series in 6.1) meta=linux-image-amd64 ;; *) meta=linux-image-$series-amd64 ;; esac
  abi=$(apt-cache depends $meta | sed -n 's/.*Depends: linux-image-\(.*-amd64\)$/\1/p' | head -1)
  [ -n "$abi" ] || { echo "hil: cannot tell Debian's current $series kernel ABI (apt-cache depends $meta)" >&2; exit 1; }
  echo "$abi" > $H/cache/abi-$series
fi
k=$H/kernel-$abi
if [ ! -f $k/boot/vmlinuz-$abi ]; then
  (cd $H/cache && apt-get download -q "linux-image-$abi" >/dev/null)
  rm -rf $k && dpkg -x $H/cache/linux-image-"$abi"_*.deb $k && rm -f $H/cache/linux-image-"$abi"_*.deb
fi
dpkg -s "linux-headers-$abi" >/dev/null 2>&1 ||
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "linux-headers-$abi" >/dev/null
# gpio-sim's sources from the very release of the image: gpiolib's private structures change within a
# stable series.
src=$H/gpio-sim-src-$abi
if [ ! -f $src/gpio-sim.c ]; then
  ver=$(apt-cache show "linux-image-$abi" | sed -n 's/^Version: //p' | head -1)
  rm -f $H/cache/linux-source-${series}_*.deb
  (cd $H/cache && apt-get download -q "linux-source-$series=$ver" >/dev/null) ||
    { echo "hil: linux-source-$series $ver (the image's release) cannot be fetched; remove $H/cache/abi-$series to take the current kernel" >&2; exit 1; }
  rm -rf $H/cache/ls && dpkg -x $H/cache/linux-source-${series}_*.deb $H/cache/ls
  mkdir -p $src
  tar -xJf $H/cache/ls/usr/src/linux-source-$series.tar.xz -C $src --strip-components=3 --wildcards \
    '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' '*/kernel/irq/irq_sim.c'
  tar -xJf $H/cache/ls/usr/src/linux-source-$series.tar.xz -C $src --strip-components=1 --wildcards \
    '*/kernel/irq/irq_sim.c'
  mv $src/kernel/irq/irq_sim.c $src/ && rm -rf $src/kernel $H/cache/ls $H/cache/linux-source-${series}_*.deb
  # irq_to_desc() is not exported to modules; generic_handle_irq() does the same for a mapped irq.
  sed -i 's/handle_simple_irq(irq_to_desc(irqnum))/generic_handle_irq(irqnum)/' $src/irq_sim.c
  printf 'obj-m := gpio-sim-hil.o\ngpio-sim-hil-y := gpio-sim.o irq_sim.o\n' > $src/Kbuild
fi
mod=$H/gpio-sim-$abi.ko
if [ ! -f $mod ]; then
  make -s -C /usr/src/linux-headers-$abi M="$PWD/$src" modules >$H/cache/gpio-sim-build.log 2>&1 ||
    { cat $H/cache/gpio-sim-build.log >&2; exit 1; }
  cp $src/gpio-sim-hil.ko $mod
fi
echo "$abi"
