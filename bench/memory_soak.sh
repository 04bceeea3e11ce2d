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
python3 - "$minutes" <<'EOF' &
import socket, struct, sys, time
minutes = float(sys.argv[1])
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sink.bind(("127.0.0.1", 0))
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); dns.bind(("127.0.0.1", 0))
senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x04host\x07example\x04test\x00\x00\x01\x00\x01"
end = time.time() + minutes * 60 + 30
i = 0
while time.time() < end:
    for s in senders:
        s.sendto(query, dns.getsockname()) if i % 4 == 0 else s.sendto(b"x" * 200, sink.getsockname())
        i += 1
    if i % 6400 == 0:
        # New sockets: new source ports, new flows.
        for s in senders: s.close()
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
    time.sleep(0.016)
    for r in (sink, dns):
        r.setblocking(False)
        try:
            while True: r.recv(4096)
        except BlockingIOError:
            pass
EOF
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
