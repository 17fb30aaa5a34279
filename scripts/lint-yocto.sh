#!/usr/bin/env bash
# The Yocto layer's checks: oelint-adv over every recipe (for wrynose, the layer's release), and the
# crate and licence lists in sync with Cargo.lock (with the tests of their generator), and the image's
# /etc/cellgate as its first boot writes it and a reboot after an upgrade keeps it. Two rules are
# suppressed: HOMEPAGE reachability (needs the network) and BBCLASSEXTEND (the firmware and its models
# are target-only; no native or nativesdk variant makes sense).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m unittest -q scripts/test_yocto_crates.py
python3 scripts/yocto-crates.py --check
bash scripts/test-yocto-firstboot.sh
out=$(.venv-ci/bin/oelint-adv --quiet --release wrynose \
  --suppress oelint.vars.homepageping --suppress oelint.var.bbclassextend \
  yocto/meta-cellgate/recipes-*/*/*.bb yocto/meta-cellgate/recipes-*/*/*.inc 2>&1) || true
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "lint-yocto: oelint-adv findings above" >&2
  exit 1
fi
echo "oelint-adv: clean ($(ls yocto/meta-cellgate/recipes-*/*/*.bb | wc -l) recipes)"
