#!/usr/bin/env bash
# Fuzzes the station's input parsers with cargo-fuzz (libFuzzer, nightly): each target for SECONDS
# (default 120), one after another at low priority, then minimises its corpus into
# tests/fuzz-corpus/<target>/ (what tests/fuzz_corpus.rs replays on stable in CI). Prints executions and
# findings per target; exits 1 when a target found a crash, hang or huge allocation (the input is in
# fuzz/artifacts/<target>/: fix it, then keep it as tests/fuzz-corpus/<target>/regression-<what>).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]       FUZZ_TARGETS="frame_convert image_file" to pick targets
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
targets=(station_config model_manifest frame_convert image_file)
if [[ -n ${FUZZ_TARGETS:-} ]]; then read -ra targets <<<"$FUZZ_TARGETS"; fi

# Idempotent set-up: nightly (libFuzzer needs its sanitizer flags) and cargo-fuzz.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +stable install cargo-fuzz --locked

cd fuzz
# Default cargo-fuzz build: optimised, with debug assertions and overflow checks, AddressSanitizer.
nice -n 10 cargo +nightly fuzz build

found=0
report=()
for t in "${targets[@]}"; do
    work=corpus/$t keep=../tests/fuzz-corpus/$t log=artifacts/$t.log
    mkdir -p "$work" "$keep" "artifacts/$t"
    cp -n "$keep"/* "$work"/ 2>/dev/null || true
    before=$(find "artifacts/$t" -type f | wc -l)
    dict=()
    if [[ -f dict/$t.dict ]]; then dict=("-dict=dict/$t.dict"); fi
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: also caps a single allocation.
    set +e
    nice -n 10 cargo +nightly fuzz run "$t" "$work" -- -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
    rc=$?
    set -e
    # Final stats when the run ended by time; the last status line when a finding stopped it.
    execs=$(grep -o 'number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    [[ -n $execs ]] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    new=$(($(find "artifacts/$t" -type f | wc -l) - before))
    if ((rc != 0 || new > 0)); then
        found=1
        what=$(grep -m1 -o 'ERROR: [A-Za-z]*: [^ ]*\|panicked at [^ ]*\|Test unit written to [^ ]*' "$log" || true)
        report+=("$t: ${execs:-?} executions, FINDING (rc $rc): ${what:-see fuzz/$log}")
    else
        report+=("$t: ${execs:-?} executions, no findings")
    fi
    # Minimise and keep the result; regression inputs stay as they are. Edges only (no hit counts, no
    # comparison values): a third of the files for the same code reached, so the corpus stays small.
    nice -n 10 cargo +nightly fuzz cmin "$t" "$work" -- -use_counters=0 -use_value_profile=0 -timeout=10 \
        >>"$log" 2>&1
    find "$keep" -type f ! -name 'regression-*' -delete
    cp "$work"/* "$keep"/
    for r in "$keep"/regression-*; do
        [[ -f $r ]] || continue
        dup=$keep/$(sha1sum "$r" | cut -d' ' -f1)
        if [[ -f $dup ]]; then rm -f "$dup"; fi
    done
done

echo
echo "== fuzzing, ${secs}s per target =="
printf '%s\n' "${report[@]}"
echo "corpus: $(find ../tests/fuzz-corpus -type f -exec cat {} + | wc -c) bytes in $(find ../tests/fuzz-corpus -type f | wc -l) files"
exit "$found"
