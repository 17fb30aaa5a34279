#!/usr/bin/env bash
# Packs the HIL VM's initramfs: static busybox, the kernel modules (vivid with its dependencies,
# configfs, gpio-sim), the cellgate binary with its shared libraries, ONNX Runtime, the shipped seal and
# electrode models and the two station configs. Usage: initramfs.sh ABI BINARY ORT_LIB OK_PATTERN NG_PATTERN OUT.cpio.gz
set -euo pipefail
abi=$1 bin=$2 ort=$3 ok=$4 ng=$5 out=$6
cd "$(dirname "$0")/../.."
mods=.hil/kernel-$abi/lib/modules/$abi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,lib,lib64,modules,hil/models,proc,sys,dev,tmp}
cp /bin/busybox "$root/bin/busybox"
# Modules in load order: each after what it depends on.
order=()
add() {
  local m=$1 f dep
  for x in "${order[@]}"; do [ "$x" = "$m" ] && return 0; done
  f=$(find "$mods" -name "$m.ko" -o -name "$m.ko.xz" | head -1)
  [ -n "$f" ] || { echo "hil: module $m not in the kernel package" >&2; exit 1; }
  for dep in $(/sbin/modinfo -F depends "$f" | tr ',' ' '); do add "$dep"; done
  # Debian compresses 6.12's modules; busybox insmod reads them plain.
  case $f in *.xz) xz -dc "$f" > "$root/modules/$m.ko" ;; *) cp "$f" "$root/modules/$m.ko" ;; esac
  order+=("$m")
}
add configfs
add vivid
cp ".hil/gpio-sim-$abi.ko" "$root/modules/gpio-sim.ko"
order+=(gpio-sim)
printf '%s\n' "${order[@]}" > "$root/modules/order"
# The binary, stripped, and every library it and ONNX Runtime link against.
strip -o "$root/bin/cellgate" "$bin"
cp "$ort" "$root/lib/libonnxruntime.so"
for lib in $( (ldd "$bin"; ldd "$ort") | awk '/=> \//{print $3} /^\t\/lib64/{print $1}' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp onnx/seal_classifier.onnx onnx/seal_classifier.encoder.onnx onnx/seal_classifier.head.onnx \
  onnx/electrode_detector.onnx "$root/hil/models/"
sed "s/@OK_PATTERN@/$ok/" scripts/hil/station.json > "$root/hil/station.json"
cp scripts/hil/electrode.json "$root/hil/electrode.json"
sed "s/@OK_PATTERN@/$ok/g; s/@NG_PATTERN@/$ng/g" scripts/hil/guest.sh > "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$out"
