#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, one after the other, on the pinned
# nightly, and prints a table: target, executions, executions per second, corpus size,
# crashes. A crash stops the run (the input is under fuzz/artifacts/TARGET). New inputs go
# to a scratch directory: the committed corpora stay as they are. Without AddressSanitizer
# (SANITIZER=address to keep it): netcore-core forbids unsafe code, so what is sought is
# a panic, and the sanitizer would cost 3-10x the executions; scripts/test.sh's short runs
# keep it.
# RUNS=N runs each target N executions instead (SECONDS then bounds each run).
# Usage: bash bench/fuzz.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchains.sh
seconds=${1:-600}
sanitizer=${SANITIZER:-none}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +"$NIGHTLY_TOOLCHAIN" fuzz list)
cargo +"$NIGHTLY_TOOLCHAIN" fuzz build --release -s "$sanitizer" >/dev/null 2>&1 ||
    cargo +"$NIGHTLY_TOOLCHAIN" fuzz build --release -s "$sanitizer"
printf '%-18s %14s %10s %8s %8s\n' target executions "exec/s" corpus crashes
for target in "${targets[@]}"; do
    scratch=$(mktemp -d)
    log=$(mktemp)
    status=0
    cargo +"$NIGHTLY_TOOLCHAIN" fuzz run --release -s "$sanitizer" "$target" "$scratch" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" ${RUNS:+-runs="$RUNS"} -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    speed=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    corpus=$(find "$scratch" "fuzz/corpus/$target" -type f | wc -l)
    crashes=$([ "$status" -eq 0 ] && echo 0 || echo 1)
    printf '%-18s %14s %10s %8s %8s\n' "$target" "$runs" "$speed" "$corpus" "$crashes"
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        echo "fuzz target $target failed; the input is under fuzz/artifacts/$target" >&2
        exit 1
    fi
    rm -rf "$scratch" "$log"
done
