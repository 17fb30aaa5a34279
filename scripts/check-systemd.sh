#!/usr/bin/env bash
# Checks the systemd unit with systemd's own tools: `systemd-analyze verify` must pass and the offline
# `systemd-analyze security` exposure must stay at or under 2.0. The unit is checked as shipped except for
# the executable's path, pointed at this build (verify insists that ExecStart exists); then again with the
# station page's network drop-in (systemd/examples/http.conf) applied, and with the fleet connection's
# (systemd/examples/mqtt.conf), which must stay under the target too.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-$PWD/target/debug/cellgate}
[ -x "$bin" ] || { echo "check-systemd: no cellgate binary at $bin (build first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # UNIT LABEL
sed "s#/usr/bin/cellgate#$bin#g" "$1" >"$tmp/cellgate.service"
# verify prints problems and exits non-zero on errors; warnings about the host (no running systemd) are not ours.
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/cellgate.service" 2>&1 || echo "verify-failed: $?")
if grep -v -e "^$" <<<"$out" | grep -q .; then
  echo "$out" >&2
  echo "check-systemd: systemd-analyze verify reported the above" >&2
  exit 1
fi
echo "systemd-analyze verify: clean$2"
score=$(systemd-analyze security --offline=true --no-pager "$tmp/cellgate.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "check-systemd: no exposure score from systemd-analyze security" >&2; exit 1; }
echo "systemd-analyze security: exposure $score (target <= 2.0)$2"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "check-systemd: exposure $score > 2.0$2" >&2; exit 1; }
}
check systemd/cellgate.service ""
# A drop-in's lines are read after the unit's, as they are here appended to it.
cat systemd/cellgate.service systemd/examples/http.conf >"$tmp/with-http.service"
check "$tmp/with-http.service" " (with the station page drop-in)"
cat systemd/cellgate.service systemd/examples/mqtt.conf >"$tmp/with-mqtt.service"
check "$tmp/with-mqtt.service" " (with the fleet connection drop-in)"
