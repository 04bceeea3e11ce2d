# Shared by the live benchmark scripts (sourced, not run): root check, release builds of
# netcore and the flooder, and starting and stopping netcore around a load.

# bench_setup NAME WHY: exits unless root; builds; sets $netcore, $flood and $hz.
bench_setup() {
    [ "$(id -u)" -eq 0 ] || { echo "$1: needs root ($2)" >&2; exit 1; }
    cargo build --release --quiet --bin netcore
    cargo build --release --quiet -p netcore-bench --bin flood
    netcore=target/release/netcore
    flood=target/release/flood
    hz=$(getconf CLK_TCK)
}

# user+system CPU ticks of process $1 so far.
proc_ticks() { awk '{sub(/.*\) /, ""); print $12+$13}' "/proc/$1/stat"; }

# start_netcore LOG ARGS...: runs netcore ARGS with JSON to /dev/null and stderr to LOG,
# waits until it captures; sets $netcore_pid.
start_netcore() {
    local log=$1
    shift
    "$netcore" --json "$@" >/dev/null 2>"$log" &
    netcore_pid=$!
    for _ in $(seq 100); do grep -q "capturing on" "$log" 2>/dev/null && break; sleep 0.1; done
}

# stop_netcore: SIGINT, then waits for the summary to be written.
stop_netcore() {
    kill -INT "$netcore_pid"
    wait "$netcore_pid"
}
