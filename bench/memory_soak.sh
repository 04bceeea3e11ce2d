#!/usr/bin/env bash
# Resident memory of a host-mode run under sustained load, sampled every 30 s.
#
# netcore --json (all default events) captures while a load generator sends UDP datagrams
# over loopback from many source ports (new flows and owners all the time) plus DNS-shaped
# queries to a local port; `--events` adds net_flow so the flow table is exercised too.
# Prints a Markdown table: minute, packets so far, RSS (MiB). As root.
#
# Usage: bench/memory_soak.sh [MINUTES] [path/to/netcore]   (default 10, target/release/netcore)
set -euo pipefail
minutes=${1:-10}
netcore=${2:-target/release/netcore}
work=$(mktemp -d)
trap 'kill $load $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$netcore" --json --events net_packet_ipv4,net_packet_udp,net_packet_dns,net_flow \
    --output "file:/dev/null" --stats 30 >/dev/null 2>"$work/stderr" &
pid=$!
sleep 3

# ~4,000 datagrams a second from 60,000 rotating source ports to two local ports, for the
# whole run (bounded: it stops with the script).
python3 "$(dirname "$0")/soak_load.py" "$minutes" &
load=$!

echo "| minute | packets | RSS (MiB) |"
echo "|---|---|---|"
for ((m = 0; m <= minutes * 2; m++)); do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    packets=$(grep -o 'stats: [0-9]* packets' "$work/stderr" | tail -1 | grep -o '[0-9]*' || echo 0)
    printf '| %.1f | %s | %.1f |\n' "$(echo "$m / 2" | bc -l)" "${packets:-0}" "$(echo "$rss / 1024" | bc -l)"
    [ "$m" -lt $((minutes * 2)) ] && sleep 30
done
kill -INT "$pid"
wait "$pid" || true
grep "host capture" "$work/stderr" | cut -c1-300
