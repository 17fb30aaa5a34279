#!/usr/bin/env bash
# Installs cellgate on a box that runs its vendor OS (e.g. a Jetson with JetPack, an RK3588 with its Debian):
# binary, ONNX Runtime library, systemd unit with its sysusers/tmpfiles/udev companions, default config,
# models and the demo samples; then creates the user, reloads udev and systemd and starts the service.
# A site's config and models are never overwritten. --uninstall removes what was installed (config, models
# and state stay unless --purge).
#
#   sudo scripts/install.sh [--bin target/release/cellgate] [--ort-lib /path/libonnxruntime.so]
#   (from an unpacked release tarball, scripts/release.sh: its bin/ and lib/, after checking SHA256SUMS)
#   sudo scripts/install.sh --uninstall [--purge]
#   scripts/install.sh --root DIR ...      stage into DIR (an image tree); touches no running system
set -euo pipefail
cd "$(dirname "$0")/.."
root="" bin=target/release/cellgate ort=.ort/libonnxruntime.so action=install purge=0
# An unpacked release tarball carries its binary and library in bin/ and lib/ (a source tree has neither).
[ -f bin/cellgate ] && bin=bin/cellgate
[ -f lib/libonnxruntime.so ] && ort=lib/libonnxruntime.so
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a folder}; shift 2 ;;
    --bin) bin=${2:?--bin needs a path}; shift 2 ;;
    --ort-lib) ort=${2:?--ort-lib needs a path}; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
live=1
[ -n "$root" ] && live=0
R=${root%/}

# What the package owns (removed by --uninstall).
owned=(
  /usr/bin/cellgate
  /usr/lib/cellgate
  /usr/lib/systemd/system/cellgate.service
  /usr/lib/sysusers.d/cellgate.conf
  /usr/lib/tmpfiles.d/cellgate.conf
  /usr/lib/udev/rules.d/60-cellgate-gpio.rules
  /usr/share/cellgate
  /usr/share/doc/cellgate
)

if [ "$action" = uninstall ]; then
  if [ $live = 1 ]; then
    systemctl disable --now cellgate.service 2>/dev/null || true
  fi
  for p in "${owned[@]}"; do rm -rf "$R$p"; done
  if [ $purge = 1 ]; then
    rm -rf "$R/etc/cellgate" "$R/var/lib/cellgate" "$R/var/log/cellgate"
  fi
  if [ $live = 1 ]; then
    systemctl daemon-reload
    udevadm control --reload || true
  fi
  echo "cellgate removed$([ $purge = 1 ] && echo ', with config, models and state' || echo '; /etc/cellgate and /var/lib/cellgate kept')"
  exit 0
fi

# A release tree is installed only as it was packed: a file damaged or changed since is refused before
# anything is written.
if [ -f SHA256SUMS ]; then
  sha256sum --quiet -c SHA256SUMS >&2 || { echo "install.sh: files differ from SHA256SUMS: nothing installed" >&2; exit 1; }
fi
[ -x "$bin" ] || { echo "install.sh: no executable at $bin (cargo build --release first, or --bin PATH)" >&2; exit 1; }
[ -f "$ort" ] || { echo "install.sh: no ONNX Runtime library at $ort (bash scripts/setup.sh, or --ort-lib PATH)" >&2; exit 1; }
# On a live system the binary must run here (e.g. not the x86_64 tarball on an aarch64 board): checked
# before anything is written. A stage (--root) may be for another architecture.
if [ $live = 1 ] && ! "$bin" --version >/dev/null 2>&1; then
  echo "install.sh: $bin does not run on this machine ($(uname -m)): wrong architecture? nothing installed" >&2
  exit 1
fi
for m in onnx/seal_classifier.onnx onnx/seal_classifier.encoder.onnx onnx/seal_classifier.head.onnx; do
  [ -f "$m" ] || { echo "install.sh: missing model $m" >&2; exit 1; }
done

install -D -m 0755 "$bin" "$R/usr/bin/cellgate"
install -D -m 0644 "$ort" "$R/usr/lib/cellgate/libonnxruntime.so"
install -D -m 0644 systemd/cellgate.service "$R/usr/lib/systemd/system/cellgate.service"
install -D -m 0644 systemd/sysusers.d/cellgate.conf "$R/usr/lib/sysusers.d/cellgate.conf"
install -D -m 0644 systemd/tmpfiles.d/cellgate.conf "$R/usr/lib/tmpfiles.d/cellgate.conf"
install -D -m 0644 systemd/udev/60-cellgate-gpio.rules "$R/usr/lib/udev/rules.d/60-cellgate-gpio.rules"
install -D -m 0644 systemd/examples/station-camera.json "$R/usr/share/cellgate/examples/station-camera.json"
install -D -m 0644 systemd/examples/http.conf "$R/usr/share/cellgate/examples/http.conf"
install -D -m 0644 systemd/examples/mqtt.conf "$R/usr/share/cellgate/examples/mqtt.conf"
install -D -m 0644 README.md "$R/usr/share/doc/cellgate/README.md"
# Factory copies of the models and the demo samples the default config replays.
install -d "$R/usr/share/cellgate/onnx" "$R/usr/share/cellgate/samples"
install -m 0644 onnx/*.onnx onnx/*.md "$R/usr/share/cellgate/onnx/"
cp -r scripts/demo/seal "$R/usr/share/cellgate/samples/"
# The site's config and models: only when there are none yet.
install -d -m 0755 "$R/etc/cellgate" "$R/etc/cellgate/models"
if [ ! -e "$R/etc/cellgate/station.json" ]; then
  install -m 0644 systemd/station.json "$R/etc/cellgate/station.json"
else
  echo "kept the existing /etc/cellgate/station.json"
fi
for m in onnx/seal_classifier*.onnx; do
  [ -e "$R/etc/cellgate/models/$(basename "$m")" ] || install -m 0644 "$m" "$R/etc/cellgate/models/"
done

if [ $live = 1 ]; then
  systemd-sysusers cellgate.conf 2>/dev/null || systemd-sysusers
  systemd-tmpfiles --create cellgate.conf 2>/dev/null || systemd-tmpfiles --create
  udevadm control --reload && udevadm trigger --subsystem-match=gpio || true
  /usr/bin/cellgate check-config /etc/cellgate/station.json
  systemctl daemon-reload
  systemctl enable --now cellgate.service
  echo "cellgate installed and started: journalctl -u cellgate -f"
else
  echo "cellgate staged into $R"
fi
