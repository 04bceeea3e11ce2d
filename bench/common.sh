# Shared by the live benchmark scripts (sourced, not run): root check, release builds of
# netcore and the flooder, starting and stopping netcore around a load, test namespaces.

# bench_setup NAME WHY: exits unless root; builds; sets $netcore, $flood and $hz.
# NETCORE=PATH measures that binary instead of building this tree's (A/B comparisons).
bench_setup() {
    [ "$(id -u)" -eq 0 ] || { echo "$1: needs root ($2)" >&2; exit 1; }
    [ -n "${NETCORE:-}" ] || cargo build --release --quiet --bin netcore
    cargo build --release --quiet -p netcore-bench --bin flood
    netcore=${NETCORE:-target/release/netcore}
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

# two_namespaces TAG NET: network namespaces TAG-a (NET.1) and TAG-b (NET.2), joined by a
# veth pair, neighbours resolved. remove_namespaces TAG deletes them.
two_namespaces() {
    local tag=$1 net=$2
    ip netns add "$tag-a"; ip netns add "$tag-b"
    ip link add "$tag-va" netns "$tag-a" type veth peer name "$tag-vb" netns "$tag-b"
    ip -n "$tag-a" addr add "$net.1/24" dev "$tag-va"; ip -n "$tag-a" link set "$tag-va" up
    ip -n "$tag-b" addr add "$net.2/24" dev "$tag-vb"; ip -n "$tag-b" link set "$tag-vb" up
    ip netns exec "$tag-b" ping -c1 -W2 "$net.1" >/dev/null   # resolve neighbours first
}
remove_namespaces() {
    ip netns del "$1-a" 2>/dev/null || true
    ip netns del "$1-b" 2>/dev/null || true
}
