#!/usr/bin/env bash
# Reject timing with the station page watched by 20 clients, against no page (issue 21; a measurement, not
# part of CI): the demo seal station replayed at a line's pace (RATE parts/s, default 50) for PARTS parts
# (default 1000), in ROUNDS rounds (default 3), each round running three configs one after another: no
# `http` section; the page on, nobody watching; the page on with 20 clients, each asking for /api/status,
# /api/parts, /api/rate and /metrics every POLL_S seconds (default 0.1: far more than a real page, which
# asks for its status once a second; POLL_S=1 is 20 real pages), 4 of them also holding the /events stream. Prints, per run and as the median of the rounds, the station's
# own reject timing counters (metrics.json at exit: mean and max |actual - scheduled| reject time of the
# fired pulses), late parts, and the requests answered.
#
# CLIENTS_NICE=19 runs the clients below the station, CLIENTS_IDLE=1 in the idle scheduling class (a real
# page runs on the technician's machine, not on the station's two cores). FOREIGN=1 adds a fourth config:
# no page, the same clients polling another server on the box (Python's http.server in the idle class,
# answers of the page's sizes): what any such traffic on the machine costs the reject timing, page or not.
#
#   [POLL_S=1] [CLIENTS=pages] [CLIENTS_NICE=19|CLIENTS_IDLE=1] bash scripts/bench-page.sh [PARTS] [ROUNDS] [RATE]   # needs the release build
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PARTS="${1:-1000}"
ROUNDS="${2:-3}"
RATE="${3:-50}"
BIN="${CELLGATE_BIN:-$ROOT/target/release/cellgate}"
[ -x "$BIN" ] || { echo "bench-page: $BIN missing: cargo build --release" >&2; exit 1; }
case "${CLIENTS:-poll}" in poll | pages) ;; *) echo "bench-page: CLIENTS=$CLIENTS: poll or pages" >&2; exit 2 ;; esac
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# 20 clients until the station's page stops answering; prints the requests answered. CLIENTS=pages makes
# each client ask as page.html's Live tab does (/api/status every second, /api/rate every 10 s, /api/parts
# once, then the /events stream held) and adds one Prometheus scrape of /metrics every 15 s.
cat >"$WORK/clients.py" <<'EOF2'
import sys, threading, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
answered, up = [0], threading.Event()
def get(path):
    try:
        urllib.request.urlopen(base + path, timeout=5).read()
        answered[0] += 1
        up.set()
        return True
    except OSError:
        return not up.is_set()
def tab():
    while not up.is_set():
        get("/api/status")
        time.sleep(0.05)
    threading.Thread(target=stream).start()
    get("/api/parts")
    n = 0
    while get("/api/status") and (n % 10 or get("/api/rate")):
        n += 1
        time.sleep(1.0)
def scrape():
    while get("/metrics"):
        time.sleep(15.0)
def poll():
    while True:
        for path in ("/api/status", "/api/parts", "/api/rate", "/metrics"):
            try:
                urllib.request.urlopen(base + path, timeout=5).read()
                answered[0] += 1
                up.set()
            except OSError:
                if up.is_set():
                    return
                time.sleep(0.05)
        time.sleep(float(sys.argv[2]))
def stream():
    while not up.is_set():
        time.sleep(0.05)
    try:
        with urllib.request.urlopen(base + "/events", timeout=10) as r:
            for _ in r:
                pass
    except OSError:
        pass
if sys.argv[3] == "pages":
    threads = [threading.Thread(target=tab) for _ in range(20)] + [threading.Thread(target=scrape)]
else:
    threads = [threading.Thread(target=poll) for _ in range(20)] + [threading.Thread(target=stream) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(answered[0])
EOF2

# The foreign server's answers, about the size of the page's.
mkdir -p "$WORK/www/api"
for f in api/status api/parts api/rate; do head -c 1500 /dev/urandom | base64 >"$WORK/www/$f"; done
head -c 4500 /dev/urandom | base64 >"$WORK/www/metrics"

run() { # NAME PAGE(none|idle|watched|foreign) ROUND
  local port http="null" clients="" server=""
  rm -rf "${WORK:?}/$1"
  if [ "$2" = foreign ]; then
    port="$(free_port)"
    chrt --idle 0 python3 -m http.server "$port" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
    server=$!
  elif [ "$2" != none ]; then
    port="$(free_port)"
    http="{\"listen\": \"127.0.0.1:$port\"}"
  fi
  python3 "$ROOT/scripts/demo_config.py" "$WORK/$1" "trigger.rate_hz=$RATE" "http=$http"
  if [ "$2" = watched ] || [ "$2" = foreign ]; then
    local sched=(nice -n "${CLIENTS_NICE:-0}")
    [ -z "${CLIENTS_IDLE:-}" ] || sched=(chrt --idle 0)
    "${sched[@]}" python3 "$WORK/clients.py" "$port" "${POLL_S:-0.1}" "${CLIENTS:-poll}" >"$WORK/$1.requests" &
    clients=$!
  fi
  "$BIN" replay --config "$WORK/$1/station.json" --images "$ROOT/scripts/demo/seal" \
    --parts "$PARTS" --rate "$RATE" --quiet >/dev/null 2>"$WORK/$1.log"
  # The clients stop when their server does: the station's page at its exit, the foreign one now.
  [ -z "$server" ] || { kill "$server"; wait "$server" 2>/dev/null || true; }
  [ -z "$clients" ] || wait "$clients"
  local requests=0
  [ ! -s "$WORK/$1.requests" ] || requests=$(cat "$WORK/$1.requests")
  python3 "$ROOT/scripts/bench_timing.py" row "$WORK/$1/state/metrics.json" "$1" "$3" "requests=$requests" \
    >>"$WORK/figures.jsonl"
  tail -n 1 "$WORK/figures.jsonl"
}

for round in $(seq "$ROUNDS"); do
  run none none "$round"
  run idle idle "$round"
  run watched watched "$round"
  [ -z "${FOREIGN:-}" ] || run foreign foreign "$round"
done

python3 "$ROOT/scripts/bench_timing.py" table "$WORK/figures.jsonl" "$PARTS" "$RATE" page "none,idle,watched${FOREIGN:+,foreign}" requests
