#!/usr/bin/env bash
# Release tarballs, one per architecture: dist/cellgate-VERSION-ARCH.tar.gz with the stripped release
# binary (bin/), the matching ONNX Runtime library (lib/), the models and their cards (onnx/; not the
# PyTorch checkpoint), the systemd unit with its sysusers/tmpfiles/udev companions, examples and default
# config (systemd/), the demo sets and configs (scripts/demo/), scripts/install.sh, README.md, and
# SHA256SUMS of all of these. On the board: tar xzf, cd into the folder, sudo scripts/install.sh (it checks
# SHA256SUMS first and refuses a tree that does not match).
#
#   scripts/release.sh [x86_64] [aarch64]     both when none is named
#
# aarch64 reuses scripts/test-aarch64.sh's cross build (target/aarch64-unknown-linux-gnu/release); x86_64
# is built only when asked for (target/release, as the demos build it). The tarballs are reproducible:
# files sorted, owner root, times the last commit's.
set -euo pipefail
cd "$(dirname "$0")/.."
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "release.sh: no version in Cargo.toml" >&2; exit 1; }
mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)

bash scripts/setup.sh
for arch in "${archs[@]}"; do
  case "$arch" in
    x86_64)
      cargo build --release --quiet
      bin=target/release/cellgate ort=.ort/libonnxruntime.so machine="x86-64" ;;
    aarch64)
      bash scripts/cross-build.sh
      bin=target/aarch64-unknown-linux-gnu/release/cellgate ort=.ort-aarch64/libonnxruntime.so machine="ARM aarch64" ;;
    *) echo "release.sh: unknown architecture $arch (x86_64 or aarch64)" >&2; exit 2 ;;
  esac
  # The wrong file in a tarball would only show on the board: check each is the architecture named.
  for f in "$bin" "$ort"; do
    file -L "$f" | grep -q "$machine" || { echo "release.sh: $f is not $machine: $(file -L "$f")" >&2; exit 1; }
  done
  if file -L "$bin" | grep -q "not stripped"; then
    echo "release.sh: $bin is not stripped (profile.release strip)" >&2
    exit 1
  fi

  name=cellgate-$version-$arch
  tree=dist/$name
  rm -rf "$tree" && mkdir -p "$tree/bin" "$tree/lib" "$tree/onnx" "$tree/scripts"
  install -m 0755 "$bin" "$tree/bin/cellgate"
  install -m 0644 "$ort" "$tree/lib/libonnxruntime.so"
  install -m 0644 onnx/*.onnx onnx/*.md onnx/*.report.json "$tree/onnx/"
  cp -r systemd "$tree/"
  cp -r scripts/demo "$tree/scripts/"
  install -m 0755 scripts/install.sh "$tree/scripts/"
  install -m 0644 README.md "$tree/"
  (cd "$tree" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum >SHA256SUMS)
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -C dist -cf - "$name" |
    gzip -n -9 >"dist/$name.tar.gz.part"
  mv "dist/$name.tar.gz.part" "dist/$name.tar.gz"
  rm -rf "$tree"
  echo "release.sh: dist/$name.tar.gz ($(stat -c %s "dist/$name.tar.gz") bytes; binary $(stat -c %s "$bin" ) bytes)"
done
