#!/usr/bin/env bash
# Soak run (not part of CI): a demo station replayed flat out for PARTS parts (default 1,000,000), RSS
# sampled from /proc every second, and the RSS printed at 10% and at 100% of the run. A station runs for
# months: nothing may grow with the number of parts (GPIO timeline, run summary, archive bookkeeping).
# The replayed sets are the demo's own 24 seal images or 8 electrode pairs, so what the replay source holds
# decoded is a few MB and the RSS is the station's own, as with a camera.
#
#   bash scripts/soak.sh [PARTS] [seal|electrode]   # needs the release build: cargo build --release
#
# Writes into a temporary folder (the results log takes about 600 bytes a part) and removes it at the end;
# the samples (seconds, parts logged, RSS KiB) are kept in target/soak/rss-KIND.csv.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PARTS="${1:-1000000}"
KIND="${2:-seal}"
case "$KIND" in
  seal) KIND_ARG=(); IMAGES="$ROOT/scripts/demo/seal" ;;
  # Flat out, a pair waits behind up to 16 others (about 0.4 s): a delay past that keeps every verdict in time.
  electrode) KIND_ARG=(--electrode actuation.delay_ms=3000); IMAGES="$ROOT/scripts/demo/electrode" ;;
  *) echo "soak: KIND is seal or electrode, not '$KIND'" >&2; exit 2 ;;
esac
BIN="${CELLGATE_BIN:-$ROOT/target/release/cellgate}"
[ -x "$BIN" ] || { echo "soak: $BIN missing: cargo build --release" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ROOT/target/soak"

# The demo config (scripts/demo_config.py), with the NG archive in the temporary folder too.
python3 "$ROOT/scripts/demo_config.py" "$WORK" "${KIND_ARG[@]}" \
  "records.archive={\"dir\": \"$WORK/ng\", \"quota_bytes\": 67108864}"

"$BIN" replay --config "$WORK/station.json" --images "$IMAGES" \
    --parts "$PARTS" --flat-out --quiet > "$WORK/summary.txt" 2> "$WORK/stderr.log" &
PID=$!

# Samples once a second: time, parts in the results log (newlines counted as the file grows), VmRSS.
python3 - "$PID" "$WORK/results.jsonl" "$PARTS" "$ROOT/target/soak/rss-$KIND.csv" <<'EOF'
import os, sys, time
pid, log, parts, csv = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
samples, seen, offset, t0 = [], 0, 0, time.monotonic()
def rss_kib():
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
while True:
    rss = rss_kib()
    if rss is None:
        break
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            chunk = f.read()
            offset += len(chunk)
            seen += chunk.count(b"\n")
    except FileNotFoundError:
        pass
    samples.append((time.monotonic() - t0, seen, rss))
    time.sleep(1.0)
with open(csv, "w") as f:
    f.write("seconds,parts,rss_kib\n")
    f.writelines(f"{t:.1f},{n},{r}\n" for t, n, r in samples)
at = lambda share: next((s for s in samples if s[1] >= share * parts), samples[-1] if samples else None)
ten, end = at(0.1), samples[-1] if samples else None
for label, s in (("10%", ten), ("100%", end)):
    if s:
        print(f"RSS at {label:>4}: {s[2] / 1024:.1f} MiB ({s[1]} parts logged, {s[0]:.0f} s)")
if ten and end:
    print(f"RSS growth from 10% to 100%: {(end[2] - ten[2]) / 1024:+.1f} MiB")
if samples:
    print(f"RSS max: {max(s[2] for s in samples) / 1024:.1f} MiB over {len(samples)} samples")
EOF
wait "$PID" || { echo "soak: cellgate failed" >&2; tail -20 "$WORK/stderr.log" >&2; exit 1; }
grep -E '^parts |^latency' "$WORK/summary.txt"
echo "results logged: $(wc -l < "$WORK/results.jsonl") of $PARTS"
