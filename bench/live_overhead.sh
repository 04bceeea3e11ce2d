#!/usr/bin/env bash
# Host-mode overhead: a bounded UDP load between two test namespaces on this host, first
# without netcore, then with `netcore --json > /dev/null` capturing it. Prints the load,
# the host's CPU per packet in both runs and their ratio, netcore's own CPU per captured
# packet, and ring-buffer drops. Root only; touches nothing but the namespaces it creates.
#
#   bench/live_overhead.sh [RATE_PPS=100000] [SECONDS=5] [NETCORE ARGS…]   (e.g. --threads 1)
#
# FLOWS=N (default 32) spreads the load over N UDP flows, so host mode's ring buffer per
# decoding thread each get some; NETCORE=PATH measures another build (see common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-100000}
seconds=${2:-5}
extra=("${@:3}")
. bench/common.sh
bench_setup live_overhead.sh "eBPF, netns"

tag="nco$$"
trap 'remove_namespaces "$tag"' EXIT
two_namespaces "$tag" 10.250.0

# Busy CPU time of the whole host, in clock ticks (user+nice+system+irq+softirq+steal).
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# One load: prints "sent received busy_ticks".
load() {
    ip netns exec "$tag-a" "$flood" recv 10.250.0.1:9999 1 >/tmp/$tag.recv &
    local receiver=$!
    sleep 0.3
    local before after sent
    before=$(busy_ticks)
    sent=$(ip netns exec "$tag-b" "$flood" send 10.250.0.1:9999 "$rate" "$seconds" 18 "${FLOWS:-32}")
    after=$(busy_ticks)
    wait "$receiver"
    echo "$sent $(cat /tmp/$tag.recv) $((after - before))"
    rm -f /tmp/$tag.recv
}

read -r base_sent base_recv base_busy < <(load)

start_netcore /tmp/$tag.netcore --stats 5 "${extra[@]}"
ticks_before=$(proc_ticks "$netcore_pid")
read -r nc_sent nc_recv nc_busy < <(load)
sleep 0.5   # let netcore drain what is queued
ticks_after=$(proc_ticks "$netcore_pid")
stop_netcore
summary=$(grep "host capture:" /tmp/$tag.netcore); rm -f /tmp/$tag.netcore
captured=$(sed -E 's/.*kernel: ([0-9]+) packets captured.*/\1/' <<<"$summary")
dropped=$(sed -E 's/.* ([0-9]+) lost to a full ring buffer.*/\1/' <<<"$summary")

python3 - "$rate" "$seconds" "$hz" "$base_sent" "$base_recv" "$base_busy" \
    "$nc_sent" "$nc_recv" "$nc_busy" "$((ticks_after - ticks_before))" "$captured" "$dropped" <<'PY'
import sys
rate, seconds, hz, bs, br, bb, ns, nr, nb, nt, cap, drop = map(int, sys.argv[1:])
tick_ns = 1e9 / hz
print(f"load: UDP {rate} packets/s for {seconds} s over veth, sender and receiver on this host")
print(f"without netcore: sent {bs}, received {br}; host CPU {bb * tick_ns / bs:.0f} ns/packet")
print(f"with netcore:    sent {ns}, received {nr}; host CPU {nb * tick_ns / ns:.0f} ns/packet")
print(f"host CPU ratio with/without: {(nb / ns) / (bb / bs):.2f}")
print(f"netcore process: {nt * tick_ns / max(cap, 1):.0f} ns per captured packet (user+sys), "
      f"{cap} captured ({cap / max(ns, 1):.2f} per packet sent: egress + ingress)")
print(f"ring-buffer drops: {drop} ({100 * drop / max(cap + drop, 1):.3f} %)")
PY
grep -o 'packets per decoding thread: [0-9, ]*' <<<"$summary" || true
