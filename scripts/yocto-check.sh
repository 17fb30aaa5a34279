#!/usr/bin/env bash
# The Yocto layer checked by a real BitBake, offline (BB_NO_NETWORK): `bitbake -p` (every recipe parses),
# `bitbake -g packagegroup-cellgate` (the station's dependency graph resolves; prints the Rust it pulls
# and checks it against Cargo.toml's rust-version) and `yocto-check-layer` on yocto/meta-cellgate.
#
#   bash scripts/yocto-check.sh LAYERS_DIR
#
# LAYERS_DIR holds clones of the layer set's target branch (wrynose): openembedded-core, bitbake (the
# branch oe-core's meta/conf/sanity.conf asks for: 2.18) and, when present, meta-clang (added to the
# layer set; the layer does not need it). MACHINE qemuarm64, systemd. Nothing is fetched or built: the
# check stops at the task graph, so it says nothing about do_compile.
# BitBake refuses to run as root: run as root, the script makes the user cellgate-yocto and runs as it.
# Work folder: $YOCTO_CHECK_WORK (default /var/tmp/cellgate-yocto-check); a re-run reuses its parse cache.
# Exit status: 0 all passed, 1 a check failed, 2 wrong use or host tools missing (it names them).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHECK_USER=cellgate-yocto
WORK=${YOCTO_CHECK_WORK:-/var/tmp/cellgate-yocto-check}

die() { echo "yocto-check: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: $0 LAYERS_DIR (with openembedded-core and bitbake of the target branch)"
LAYERS=$(cd "$1" && pwd) || die "no folder $1"
for l in openembedded-core bitbake; do
  [ -d "$LAYERS/$l" ] || die "$LAYERS/$l is missing (clone it, target branch)"
done

if [ "$(id -u)" -eq 0 ]; then
  id "$CHECK_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$CHECK_USER"
  mkdir -p "$WORK"
  chown "$CHECK_USER:" "$WORK"
  # The layer as it is in this working tree, readable by the check's user.
  rm -rf "$WORK/meta-cellgate"
  cp -R "$ROOT/yocto/meta-cellgate" "$WORK/meta-cellgate"
  chown -R "$CHECK_USER:" "$WORK/meta-cellgate"
  # The layer clones belong to root: let the user's git read them (BitBake asks them for revisions).
  home=$(getent passwd "$CHECK_USER" | cut -d: -f6)
  runuser -u "$CHECK_USER" -- env HOME="$home" git config --global --replace-all safe.directory '*'
  # A plain PATH: the distribution's python3 with its modules, not a root-only one (pyenv and the like).
  exec runuser -u "$CHECK_USER" -- env HOME="$home" USER="$CHECK_USER" YOCTO_CHECK_WORK="$WORK" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    YOCTO_CHECK_COPIED=1 bash "$0" "$LAYERS"
fi

# The host tools BitBake needs (Debian 12 package in brackets).
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 ($2)"); }
need gawk gawk; need wget wget; need git git; need diffstat diffstat; need unzip unzip
need makeinfo texinfo; need gcc gcc; need g++ build-essential; need make build-essential
need chrpath chrpath; need socat socat; need cpio cpio; need python3 python3; need pip3 python3-pip
need xz xz-utils; need which debianutils; need ping iputils-ping; need zstd zstd; need lz4 lz4
need file file; need locale locales
for m in pexpect:python3-pexpect git:python3-git jinja2:python3-jinja2 subunit:python3-subunit; do
  python3 -c "import ${m%%:*}" 2>/dev/null || missing+=("python module ${m%%:*} (${m#*:})")
done
locale -a 2>/dev/null | grep -qiE '^en_US\.utf-?8$' || missing+=("locale en_US.UTF-8 (locales: uncomment it in /etc/locale.gen, run locale-gen)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'yocto-check: missing on this host:\n' >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 2
fi


mkdir -p "$WORK"
if [ -z "${YOCTO_CHECK_COPIED:-}" ]; then
  rm -rf "$WORK/meta-cellgate"
  cp -R "$ROOT/yocto/meta-cellgate" "$WORK/meta-cellgate"
fi
LAYER="$WORK/meta-cellgate"
CLANG=""
[ -d "$LAYERS/meta-clang" ] && CLANG="$LAYERS/meta-clang"

export BITBAKEDIR="$LAYERS/bitbake"
# Sets up (once) and enters a build folder; its bblayers.conf lists $2 ... and nothing else.
enter_build() {
  local dir=$1; shift
  set +u
  # shellcheck disable=SC1091
  . "$LAYERS/openembedded-core/oe-init-build-env" "$dir" >/dev/null
  set -u
  {
    echo 'BBPATH = "${TOPDIR}"'
    echo 'BBFILES ?= ""'
    echo "BBLAYERS = \"$*\""
  } > conf/bblayers.conf
  cat > conf/local.conf <<EOF
MACHINE = "qemuarm64"
DISTRO = "nodistro"
INIT_MANAGER = "systemd"
BB_NO_NETWORK = "1"
CONNECTIVITY_CHECK_URIS = ""
DL_DIR = "$WORK/downloads"
SSTATE_DIR = "$WORK/sstate-cache"
BB_HASHSERVE_DB_DIR = "\${SSTATE_DIR}"
BB_NUMBER_PARSE_THREADS = "2"
EOF
}

status=0
layers_with_clang="$LAYERS/openembedded-core/meta${CLANG:+ $CLANG}"
echo "== layers: $layers_with_clang $LAYER"
for l in openembedded-core bitbake ${CLANG:+meta-clang}; do
  printf '   %s: %s %s\n' "$l" "$(git -C "$LAYERS/$l" rev-parse --abbrev-ref HEAD)" "$(git -C "$LAYERS/$l" rev-parse --short=12 HEAD)"
done

(
  enter_build "$WORK/build" "$layers_with_clang $LAYER"
  echo "== bitbake -p"
  if bitbake -p > "$WORK/parse.log" 2>&1; then parse_rc=0; else parse_rc=$?; fi
  grep -E '^(Parsing of|Summary:)' "$WORK/parse.log" || true
  errors=$(grep -c '^ERROR:' "$WORK/parse.log" || true)
  warnings=$(grep -c '^WARNING:' "$WORK/parse.log" || true)
  echo "   exit $parse_rc, $errors errors, $warnings warnings (log: $WORK/parse.log)"
  grep -E '^(ERROR|WARNING):' "$WORK/parse.log" | head -20 || true
  [ "$parse_rc" -eq 0 ] && [ "$errors" -eq 0 ] || exit 1

  echo "== bitbake -g packagegroup-cellgate"
  if bitbake -g packagegroup-cellgate > "$WORK/graph.log" 2>&1; then graph_rc=0; else graph_rc=$?; fi
  errors=$(grep -c '^ERROR:' "$WORK/graph.log" || true)
  echo "   exit $graph_rc, $errors errors (log: $WORK/graph.log)"
  grep -E '^ERROR:' "$WORK/graph.log" | head -20 || true
  [ "$graph_rc" -eq 0 ] && [ "$errors" -eq 0 ] || exit 1
  echo "   $(wc -l < pn-buildlist) recipes in the graph; the station's own:"
  grep -xE 'cellgate|cellgate-models|onnxruntime|packagegroup-cellgate' pn-buildlist | sed 's/^/     /'
  # task-depends.dot labels each task "PN do_task\n:PV-PR\nRECIPE".
  python3 - "$ROOT/Cargo.toml" task-depends.dot <<'EOF'
import re, sys, tomllib
need = tomllib.load(open(sys.argv[1], "rb"))["package"]["rust-version"]
found = {}
for pn, pv in re.findall(r'label="(\S+) do_\w+\\n:([^\\"]+)', open(sys.argv[2]).read()):
    if pn in ("rust-native", "cargo-native", "libstd-rs", "rust-cross-aarch64"):
        found[pn] = re.sub(r"^\d+:", "", pv).rsplit("-", 1)[0]
for pn, pv in sorted(found.items()):
    print(f"   {pn} {pv}")
if "rust-native" not in found:
    sys.exit("   the graph pulls no rust-native")
key = lambda v: tuple(int(x) for x in re.findall(r"\d+", v)[:3])
ok = key(found["rust-native"]) >= key(need)
print(f"   Rust {found['rust-native']} {'>=' if ok else '<'} rust-version {need} (Cargo.toml)")
sys.exit(0 if ok else 1)
EOF
) || status=1

echo "== yocto-check-layer $LAYER"
(
  # Its own build folder: it adds the layer (and the dependencies given) to a core-only bblayers.conf.
  enter_build "$WORK/build-check-layer" "$LAYERS/openembedded-core/meta"
  deps=()
  [ -n "$CLANG" ] && deps=(--dependency "$CLANG")
  if yocto-check-layer --no-auto "$LAYER" "${deps[@]}" > "$WORK/check-layer.log" 2>&1; then rc=0; else rc=$?; fi
  # One line per test: its name and what came of it; then the tool's own summary.
  awk '/^INFO: (test_|setUpClass)/ { t = $2 " " $3 }
       /^INFO:  \.\.\. / { sub(/^INFO:  \.\.\. /, ""); if (t != "") print "   " t ": " $0; t = "" }
       /^INFO: (Ran|OK|FAILED)/ || /INFO: Summary of results/ { s = 1 }
       s && /^INFO: / { sub(/^INFO: /, ""); if ($0 != "") print "   " $0 }' "$WORK/check-layer.log"
  echo "   exit $rc (log: $WORK/check-layer.log)"
  exit "$rc"
) || status=1

[ "$status" -eq 0 ] && echo "yocto-check: all passed" || echo "yocto-check: a check failed (above)"
exit "$status"
