#!/usr/bin/env bash
# Checks a release tarball (scripts/release.sh ARCH) as a board would take it: unpacked, its SHA256SUMS
# checked, installed by its own install.sh into a stage, and the staged binary (the release build, with the
# staged ONNX Runtime) runs --version and check-config of the default config (re-rooted into the stage: it
# names the staged ONNX Runtime and models); an aarch64 binary runs under qemu-user. A damaged tree is
# refused before anything is written; so is the aarch64 tree installed live on this x86-64 machine.
# scripts/test-aarch64.sh runs it for aarch64 (after its cross build), scripts/test.sh for x86_64.
#
#   bash scripts/test-release.sh x86_64|aarch64
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
arch=${1:?usage: test-release.sh x86_64|aarch64}

stamp() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f s", b - a }'; }
fail() { echo "test-release: $arch: $*" >&2; exit 1; }

case "$arch" in
  x86_64) bin=target/release/cellgate lib=$root/.ort/libonnxruntime.so run=() ;;
  aarch64)
    bin=target/aarch64-unknown-linux-gnu/release/cellgate lib=$root/.ort-aarch64/libonnxruntime.so
    run=(bash scripts/qemu-aarch64.sh) ;;
  *) fail "unknown architecture (x86_64 or aarch64)" ;;
esac
out=target/release-test/$arch
t=$(stamp)
bash scripts/release.sh "$arch"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tarball=dist/cellgate-$version-$arch.tar.gz
unpack=$out/unpack
rm -rf "$out" && mkdir -p "$unpack"
tar xzf "$tarball" -C "$unpack"
tree=$unpack/cellgate-$version-$arch
(cd "$tree" && sha256sum --quiet -c SHA256SUMS) || fail "$tarball: SHA256SUMS does not match its files"
stage=$root/$out/stage
"$tree/scripts/install.sh" --root "$stage" >/dev/null || fail "install.sh from the unpacked $tarball failed"
staged=$stage/usr/bin/cellgate
cmp -s "$staged" "$bin" || fail "the staged binary is not the $arch release build"
cmp -s "$stage/usr/lib/cellgate/libonnxruntime.so" "$lib" || fail "the staged ONNX Runtime is not the $arch one"
"${run[@]}" "$staged" --version | grep -qx "cellgate $version" || fail "staged binary: --version"
mkdir -p "$stage/var/log/cellgate" "$stage/var/lib/cellgate"
sed "s|\"/|\"$stage/|g" "$stage/etc/cellgate/station.json" >"$out/staged-station.json"
"${run[@]}" "$staged" check-config "$out/staged-station.json" >"$out/staged-check.log" 2>&1 ||
  { cat "$out/staged-check.log" >&2; fail "staged binary: check-config of the default config"; }

# A damaged tree is refused before anything is written: one byte of a model changed.
cp -r "$tree" "$unpack/damaged"
printf 'x' >>"$unpack/damaged/onnx/seal_classifier.onnx"
if "$unpack/damaged/scripts/install.sh" --root "$out/stage-damaged" >"$out/damaged.log" 2>&1; then
  fail "install.sh installed a tree whose files differ from SHA256SUMS"
fi
grep -q "differ from SHA256SUMS" "$out/damaged.log" || fail "install.sh refused a damaged tree without saying why"
[ ! -e "$out/stage-damaged" ] || fail "install.sh wrote into the stage before refusing a damaged tree"
refused="a damaged tree refused"
# The aarch64 tree installed live on this x86-64 machine: refused before anything is written, naming the
# architecture. Run as nobody, so that an installer without the check fails on permissions instead of
# installing here. Where binfmt_misc runs aarch64 binaries, the binary does run here: nothing to refuse.
if [ "$arch" = aarch64 ]; then
  if ls /proc/sys/fs/binfmt_misc/ 2>/dev/null | grep -q aarch64; then
    echo "test-release: binfmt_misc runs aarch64 binaries here: the wrong-architecture install is not tried"
  else
    if runuser -u nobody -- "$tree/scripts/install.sh" >"$out/wrong-arch.log" 2>&1; then
      fail "install.sh installed an aarch64 binary on $(uname -m)"
    fi
    grep -q "does not run on this machine" "$out/wrong-arch.log" ||
      { cat "$out/wrong-arch.log" >&2; fail "install.sh did not refuse the aarch64 binary on $(uname -m) by its architecture"; }
    refused="$refused, and the wrong architecture"
  fi
fi
echo "test-release: $tarball ($(stat -c %s "$tarball") bytes): SHA256SUMS, install.sh --root, --version and check-config${run[*]:+ under qemu}; $refused: $(took "$t")"
