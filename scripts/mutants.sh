#!/usr/bin/env bash
# Mutation testing of the safety core (issue 26): does the test suite notice when the code that decides
# which parts are rejected, and when, changes? Not in CI: on 2 cores it takes hours.
#
#   scripts/mutants.sh [FILE...]     default: the safety core below
#
# Two stages, so that a run fits in an afternoon: every mutant against the unit tests (`cargo test --lib`:
# one library to build per mutant), then the mutants those missed against the station's end-to-end tests
# (the binary and the tests in STATION_TESTS). A mutant missed by both is a gap; one that no test can tell
# from the original is listed, with why, in tests/mutants-equivalent.txt and not tested.
#
# Env: MUTANTS_ONLY (a file of mutant names, such as an earlier run's missed.txt: only those, at whatever
# line they are now), MUTANTS_OUT (default target/mutants), MUTANTS_BUDGET_S (the whole run, default 21600),
# MUTANTS_STATION_TESTS (the end-to-end test files of stage 2), MUTANTS_TIMEOUT_S (one mutant's end-to-end tests, default 900; the unit tests' timeout is set from the
# unmutated run, at least 60 s: a mutant that hangs the tests is a timeout).
# Prints caught / missed / timeout / unviable / equivalent per file; exits 1 when a mutant is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=27.1.0
if [ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $VERSION" ]; then
    cargo install --locked --version "$VERSION" cargo-mutants
fi

CORE=(
    src/sinks/reject_scheduler/mod.rs      # reject points, pulses, late and quiet parts
    src/sinks/reject_scheduler/outputs.rs  # alarm and ready, failed writes
    src/sinks/reject_scheduler/overload.rs # the unjudged share behind the overload alarm
    src/sinks/reject_scheduler/messages.rs # parts, outcomes and faults on their way to it
    src/sinks/reject_scheduler/config.rs   # delay, pulse and the overload bound
    src/inspect/decision.rs                # the verdict from the score
    src/inspect/electrode/rules.rs         # the electrode's defect rules
    src/inspect/plausibility/mod.rs        # frames that cannot show a part
    src/station/pipeline/infer.rs          # model faults, takeovers between batches, parts past their point
    src/station/model_swap.rs              # which replacement model may take over
    src/sinks/gpio/mod.rs                  # output names and safe values
    src/sinks/gpio/sim.rs                  # the simulated chip's safe state
)
read -r -a STATION_TESTS <<<"${MUTANTS_STATION_TESTS:-station fail_safe electrode_station model_swap signals}"
EQUIVALENT=tests/mutants-equivalent.txt
OUT=${MUTANTS_OUT:-target/mutants}
BUDGET_S=${MUTANTS_BUDGET_S:-21600}
TIMEOUT_S=${MUTANTS_TIMEOUT_S:-900}
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${CORE[@]}")

# The copy cargo-mutants builds in leaves out what git ignores, ONNX Runtime's .ort/ among it.
export ORT_DYLIB_PATH="$PWD/.ort/libonnxruntime.so"
[ -f "$ORT_DYLIB_PATH" ] || { echo "no $ORT_DYLIB_PATH: run scripts/setup.sh" >&2; exit 2; }
# No debug info: each mutant compiles and links sooner, and no test reads it.
export CARGO_PROFILE_DEV_DEBUG=0

common=(--gitignore true --no-shuffle --build-timeout 1800)
for f in "${files[@]}"; do common+=(-f "$f"); done

# A listed mutant that the code no longer has is a stale line: say so rather than trust the list.
mkdir -p "$(dirname "$OUT")"
cargo mutants "${common[@]}" --list >"$OUT.list"
python3 scripts/mutants_summary.py check "$EQUIVALENT" "$OUT.list"
mapfile -t exclude < <(python3 scripts/mutants_summary.py exclude "$EQUIVALENT")
only=()
[ -z "${MUTANTS_ONLY:-}" ] || mapfile -t only < <(python3 scripts/mutants_summary.py only "$MUTANTS_ONLY")

rm -rf "$OUT" && mkdir -p "$OUT/unit" "$OUT/station"
start=$(date +%s)
deadline=$((start + BUDGET_S))
left() { echo $((deadline - $(date +%s))); }
# cargo mutants exits 2 when it missed a mutant and 3 on a timeout: the report says what happened.
run_stage() {
    local dir=$1; shift
    local budget; budget=$(left)
    [ "$budget" -gt 0 ] || { touch "$OUT/budget-spent"; return 0; }
    local rc=0
    timeout "$budget" cargo mutants "${common[@]}" "${exclude[@]}" -o "$OUT/$dir" "$@" || rc=$?
    [ "$rc" -ne 124 ] || touch "$OUT/budget-spent"
    case $rc in 0|2|3|124) ;; *) echo "cargo mutants failed ($rc): see $OUT/$dir/mutants.out/debug.log" >&2; exit "$rc" ;; esac
}

echo "stage 1: ${files[*]} against the unit tests"
run_stage unit "${only[@]}" -C --lib --minimum-test-timeout 60
mapfile -t examine < <(python3 scripts/mutants_summary.py examine "$OUT")
if [ ${#examine[@]} -gt 0 ]; then
    echo "stage 2: $((${#examine[@]} / 2)) mutants the unit tests missed, against: ${STATION_TESTS[*]}"
    station=(-C --lib -C --bins)
    for t in "${STATION_TESTS[@]}"; do station+=(-C "--test=$t"); done
    # Baseline skipped: the unit stage's baseline passed on the same tree.
    run_stage station "${examine[@]}" "${station[@]}" --baseline skip --timeout "$TIMEOUT_S"
fi
python3 scripts/mutants_summary.py report "$OUT" "$EQUIVALENT" $(($(date +%s) - start))
