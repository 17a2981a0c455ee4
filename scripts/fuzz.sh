#!/usr/bin/env bash
# Fuzz every target of fuzz/ (cargo-fuzz, libFuzzer) from the seed corpus in fuzz/corpus.
#
#   scripts/fuzz.sh                        bounded run: FUZZ_SECONDS (default 60) per target (CI)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh     the long run: that many executions per target
#   FUZZ_TARGETS="csv_import" scripts/fuzz.sh
#
# New inputs go to a temporary directory, not into the committed corpus. A crash fails the run
# and leaves its input in fuzz/artifacts/<target>/: turn it into a regression test, and add the
# input to fuzz/corpus/<target>/ so every later run replays it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz --version 0.13.2
fi
# cargo fuzz passes -Z flags (sanitizers, coverage); the machine has one stable toolchain.
export RUSTC_BOOTSTRAP=1

targets=${FUZZ_TARGETS:-"number_parser snapshot_verify delta_apply csv_import c_api_sequence"}
cargo fuzz build -O
for t in $targets; do
    work="$(mktemp -d)"
    if [ -n "${FUZZ_RUNS:-}" ]; then
        limit=(-runs="$FUZZ_RUNS")
    else
        limit=(-max_total_time="${FUZZ_SECONDS:-60}")
    fi
    log="$work/log"
    if ! cargo fuzz run -O "$t" "$work" "corpus/$t" -- "${limit[@]}" -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $t ok: $runs executions ($rate/s), corpus $(ls "$work" | grep -vc '^log$') new inputs"
    rm -rf "$work"
done
