#!/usr/bin/env bash
# Reject timing with the fleet connection on against off (issue 22; a measurement, not part of CI): the
# demo seal station replayed at a line's pace (RATE parts/s, default 50) for PARTS parts (default 1000), in
# ROUNDS rounds (default 3), each round running three configs one after another: no `mqtt` section; `mqtt`
# to a mosquitto started here on a loopback port; `mqtt` to a port where no broker listens (every part
# spooled). Prints, per run and as the median of the rounds, the station's own reject timing counters
# (metrics.json at exit: mean and max |actual - scheduled| reject time of the fired pulses), late parts
# and the MQTT counters.
#
#   bash scripts/bench-mqtt.sh [PARTS] [ROUNDS] [RATE]     # needs the release build and mosquitto
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PARTS="${1:-1000}"
ROUNDS="${2:-3}"
RATE="${3:-50}"
BIN="${CELLGATE_BIN:-$ROOT/target/release/cellgate}"
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
[ -x "$BIN" ] || { echo "bench-mqtt: $BIN missing: cargo build --release" >&2; exit 1; }
[ -x "$MOSQUITTO" ] || { echo "bench-mqtt: mosquitto missing: bash scripts/setup.sh" >&2; exit 1; }
WORK="$(mktemp -d)"
BROKER=""
cleanup() {
  [ -z "$BROKER" ] || kill "$BROKER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
AWAY="$(free_port)"
{
  echo "listener $PORT 127.0.0.1"
  echo "allow_anonymous true"
  echo "log_dest none"
  [ "$(id -u)" != 0 ] || echo "user root"
} >"$WORK/mosquitto.conf"
"$MOSQUITTO" -c "$WORK/mosquitto.conf" &
BROKER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# The demo config (scripts/demo_config.py), paced at RATE, no page, MQTT to the given port when there is one.
config() { # NAME MQTT_PORT_OR_EMPTY
  local mqtt=()
  [ -z "$2" ] || mqtt=("mqtt={\"host\": \"127.0.0.1\", \"port\": $2}")
  python3 "$ROOT/scripts/demo_config.py" "$WORK/$1" "trigger.rate_hz=$RATE" "http=null" "${mqtt[@]}"
}

run() { # NAME MQTT_PORT_OR_EMPTY ROUND
  rm -rf "${WORK:?}/$1"
  config "$1" "$2"
  "$BIN" replay --config "$WORK/$1/station.json" --images "$ROOT/scripts/demo/seal" \
    --parts "$PARTS" --rate "$RATE" --quiet >/dev/null 2>"$WORK/$1.log"
  python3 - "$WORK/$1/state/metrics.json" >"$WORK/$1.mqtt" <<'EOF'
import json, sys
print(json.dumps({k: v for k, v in json.load(open(sys.argv[1]))["counters"].items() if k.startswith("mqtt_")}))
EOF
  python3 "$ROOT/scripts/bench_timing.py" row "$WORK/$1/state/metrics.json" "$1" "$3" "mqtt=$(cat "$WORK/$1.mqtt")" \
    >>"$WORK/figures.jsonl"
  tail -n 1 "$WORK/figures.jsonl"
}

for round in $(seq "$ROUNDS"); do
  run off "" "$round"
  run on "$PORT" "$round"
  run away "$AWAY" "$round"
done

python3 "$ROOT/scripts/bench_timing.py" table "$WORK/figures.jsonl" "$PARTS" "$RATE" mqtt off,on,away
