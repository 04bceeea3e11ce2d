#!/usr/bin/env bash
# Kernel time of netcore's eBPF programs per run (BPF_ENABLE_STATS, as `--stats` reports
# it): host mode capturing a bounded UDP load between two test namespaces (the flooder,
# RATE packets/s for 3 s, each packet seen leaving and arriving), once per event selection
# (headers only; with DNS, which copies up to the snap length), alternating, RUNS times
# each. Prints each selection's median kernel time per run, by program role. Root only;
# touches nothing but the namespaces it creates.
#
#   bench/kernel_cost.sh [RUNS=5] [RATE_PPS=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
rate=${2:-100000}
. bench/common.sh
bench_setup kernel_cost.sh "eBPF, netns"

tag="nck$$"
log=$(mktemp)
trap 'remove_namespaces "$tag"; rm -f "$log" "$log".*' EXIT
two_namespaces "$tag" 10.252.0

selections=("net_packet_ipv4,net_packet_udp" "net_packet_ipv4,net_packet_udp,net_packet_dns")
for _ in $(seq "$runs"); do
    for i in "${!selections[@]}"; do
        start_netcore "$log" --stats 60 --events "${selections[$i]}"
        ip netns exec "$tag-a" "$flood" recv 10.252.0.1:9999 1 >/dev/null &
        receiver=$!
        sleep 0.3
        ip netns exec "$tag-b" "$flood" send 10.252.0.1:9999 "$rate" 3 >/dev/null
        wait "$receiver"
        sleep 0.3
        stop_netcore
        # "kernel time: capture N ns/run (R runs), attribution M ns/run (R runs)"
        grep -o "kernel time: .*" "$log" | head -1 >>"$log.$i"
    done
done

echo "UDP, $rate packets/s for 3 s over veth; medians of $runs runs per selection"
for i in "${!selections[@]}"; do
    python3 - "${selections[$i]}" "$log.$i" <<'EOF'
import re, statistics, sys
selection, path = sys.argv[1], sys.argv[2]
per_role = {}
for line in open(path):
    for role, ns, runs in re.findall(r"(\w+) (\d+) ns/run \((\d+) runs\)", line):
        per_role.setdefault(role, []).append((int(ns), int(runs)))
print(f"--events {selection}:")
for role, values in per_role.items():
    times = [ns for ns, _ in values]
    print(f"  {role}: {statistics.median(times):.0f} ns/run (runs {min(times)}–{max(times)}), "
          f"{values[0][1]:,} runs each")
EOF
done
