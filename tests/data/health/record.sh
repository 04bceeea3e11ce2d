#!/usr/bin/env bash
# Records lossy.pcap, the capture of tests/health.rs: four TCP connections (three over
# IPv4, one over IPv6) between two network namespaces joined by a veth pair, with 3 % of
# the server's incoming and outgoing segments dropped at random by nftables (`numgen
# random`; this kernel has no netem), one of them to a slow reader whose 4 KiB receive
# buffer fills (zero windows). The veth as the client's end sees it, 96 bytes a packet,
# nanosecond times. Root only.
#
#   tests/data/health/record.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
server_ns=nch-s$$ client_ns=nch-c$$
cleanup() {
    ip netns del "$server_ns" 2>/dev/null || true
    ip netns del "$client_ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$server_ns"
ip netns add "$client_ns"
ip link add nchs netns "$server_ns" type veth peer name nchc netns "$client_ns"
ip -n "$server_ns" addr add 10.77.0.1/24 dev nchs
ip -n "$client_ns" addr add 10.77.0.2/24 dev nchc
ip -n "$server_ns" addr add fd77::1/64 dev nchs nodad
ip -n "$client_ns" addr add fd77::2/64 dev nchc nodad
for ns in "$server_ns" "$client_ns"; do ip -n "$ns" link set lo up; done
ip -n "$server_ns" link set nchs up
ip -n "$client_ns" link set nchc up
ip netns exec "$server_ns" nft -f - <<'NFT'
table inet loss {
    chain in { type filter hook input priority 0; tcp dport 9000 numgen random mod 100 < 3 drop; }
    chain out { type filter hook output priority 0; tcp sport 9000 numgen random mod 100 < 3 drop; }
}
NFT
ip netns exec "$client_ns" tcpdump -i nchc -s 96 -U --time-stamp-precision=nano \
    -w "$out/lossy.pcap" 2>/dev/null &
dump=$!
sleep 1
ip netns exec "$server_ns" python3 "$here/traffic.py" server 10.77.0.1 9000 3 &
server4=$!
ip netns exec "$server_ns" python3 "$here/traffic.py" server fd77::1 9000 1 &
server6=$!
sleep 0.5
ip netns exec "$client_ns" timeout 60 python3 "$here/traffic.py" client 10.77.0.1 9000 \
    f1000000,s120000,f500000
ip netns exec "$client_ns" timeout 60 python3 "$here/traffic.py" client fd77::1 9000 f500000
wait "$server4" "$server6"
sleep 0.5
kill "$dump"
wait "$dump" || true
