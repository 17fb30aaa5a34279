#!/usr/bin/env bash
# The Yocto image's /etc/cellgate through systemd-tmpfiles, as a station boots it (issue 25 item 3): the
# first boot copies the packaged default config and seal models there; after an upgrade that brings new
# defaults, the next boot keeps the site's edited config and swapped model. Runs the layer's tmpfiles.d
# files and the repository's on a folder standing for the image's root (systemd-tmpfiles --root), only
# the lines under /etc/cellgate. scripts/lint-yocto.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-tmpfiles >/dev/null || { echo "test-yocto-firstboot: needs systemd-tmpfiles (Debian: systemd)" >&2; exit 1; }
layer=yocto/meta-cellgate/recipes-cellgate
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() { echo "test-yocto-firstboot: $*" >&2; exit 1; }

# What the packages install (the paths of cellgate_git.bb and cellgate-models_git.bb).
install -d "$root/usr/lib/tmpfiles.d" "$root/usr/share/cellgate/defaults" "$root/usr/share/cellgate/onnx"
install -m 0644 systemd/tmpfiles.d/cellgate.conf "$layer/cellgate/files/cellgate-config.conf" \
  "$layer/cellgate-models/files/cellgate-models.conf" "$root/usr/lib/tmpfiles.d/"
# Not root: leave the owners as they are (the test is about which files get written, not who owns them).
if [ "$(id -u)" -ne 0 ]; then
  sed -i -E 's/^([dDC]\S*\s+\S+\s+\S+)\s+\S+\s+\S+/\1 - -/' "$root"/usr/lib/tmpfiles.d/*.conf
fi
install -m 0644 systemd/station.json "$root/usr/share/cellgate/defaults/station.json"
install -m 0644 onnx/seal_classifier.onnx onnx/seal_classifier.encoder.onnx onnx/seal_classifier.head.onnx \
  "$root/usr/share/cellgate/onnx/"
boot() { systemd-tmpfiles --root="$root" --create --prefix=/etc/cellgate || fail "systemd-tmpfiles failed"; }
etc=$root/etc/cellgate

boot
cmp -s "$etc/station.json" "$root/usr/share/cellgate/defaults/station.json" || fail "first boot: no default config in /etc/cellgate"
for m in seal_classifier.onnx seal_classifier.encoder.onnx seal_classifier.head.onnx; do
  cmp -s "$etc/models/$m" "$root/usr/share/cellgate/onnx/$m" || fail "first boot: no $m in /etc/cellgate/models"
done
echo "first boot: default config and 3 seal models copied to /etc/cellgate"

# The site edits its config and swaps a model; an upgrade brings new defaults; the station reboots.
echo '{"site": "edited"}' > "$etc/station.json"
echo "site model" > "$etc/models/seal_classifier.onnx"
echo '{"new": "default"}' > "$root/usr/share/cellgate/defaults/station.json"
echo "new factory model" > "$root/usr/share/cellgate/onnx/seal_classifier.onnx"
boot
[ "$(cat "$etc/station.json")" = '{"site": "edited"}' ] || fail "after an upgrade the site's config was replaced"
[ "$(cat "$etc/models/seal_classifier.onnx")" = "site model" ] || fail "after an upgrade the swapped model was replaced"
echo "upgrade and reboot: the site's config and swapped model kept"
