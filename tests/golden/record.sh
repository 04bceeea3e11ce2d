#!/usr/bin/env bash
# Records the golden captures in this folder with real clients and servers in two
# network namespaces joined by a veth pair, then writes each capture's expected events.
#
#   ncg-srv (10.99.0.1, fd99::1): nc TCP and UDP listeners, python http.server, dnsmasq
#   ncg-cli (10.99.0.2, fd99::2): ping (with IPv4 options, and fragmented over IPv4 and
#   IPv6), nc, curl, dig (UDP and TCP)
# (VLAN tags cannot be recorded on kernels without CONFIG_VLAN_8021Q, as on this project's
# machines: tests/golden.rs re-tags the Ethernet capture instead.)
#
# Captures:
#   ethernet.pcap      tcpdump on the server's veth, microsecond pcap, LINKTYPE_ETHERNET
#   ethernet-ns.pcap   the same interface, nanosecond pcap
#   sll.pcap           tcpdump -i any in the client namespace, LINKTYPE_LINUX_SLL
#   sll2.pcap          tcpdump -i any -y LINUX_SLL2 in the client namespace
# Expected events: NAME.jsonl, written by update-expected.sh.
#
# Needs root, iproute2, tcpdump, netcat-openbsd, python3, curl, dnsmasq, dnsutils.
# Traffic stays between the two namespaces, a few dozen packets, and ends by itself.
# Tests never run this: they read the committed captures. Re-run it only on purpose,
# review the diff of the .jsonl files, and commit both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
srv=ncg-srv-$$
cli=ncg-cli-$$
work=$(mktemp -d)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$srv" 2>/dev/null || true
    ip netns del "$cli" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

in_srv() { ip netns exec "$srv" "$@"; }
in_cli() { ip netns exec "$cli" "$@"; }

ip netns add "$srv"
ip netns add "$cli"
ip link add vsrv netns "$srv" type veth peer name vcli netns "$cli"
in_srv ip link set lo up
in_cli ip link set lo up
in_srv ip addr add 10.99.0.1/24 dev vsrv
in_cli ip addr add 10.99.0.2/24 dev vcli
in_srv ip -6 addr add fd99::1/64 dev vsrv nodad
in_cli ip -6 addr add fd99::2/64 dev vcli nodad
# Fixed MACs keep the Ethernet headers stable between recordings.
in_srv ip link set vsrv address 02:00:0a:63:00:01
in_cli ip link set vcli address 02:00:0a:63:00:02
in_srv ip link set vsrv up
in_cli ip link set vcli up

# Servers.
in_srv timeout 30 nc -l -p 8090 >/dev/null & pids+=($!)
in_srv timeout 30 nc -6 -l -p 8092 >/dev/null & pids+=($!)
in_srv timeout 30 nc -u -l -p 8091 >/dev/null & pids+=($!)
mkdir -p "$work/www" && echo "golden page" > "$work/www/index.html"
in_srv timeout 30 python3 -m http.server 8080 --bind 10.99.0.1 --directory "$work/www" \
    >/dev/null 2>&1 & pids+=($!)
in_srv timeout 30 dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
    --pid-file= --user=root --listen-address=10.99.0.1 --bind-interfaces --port=53 \
    --host-record=www.example.test,10.99.0.80,fd99::80 \
    --cname=alias.example.test,www.example.test \
    --mx-host=example.test,mail.example.test,10 \
    --txt-record=example.test,"v=spf1 -all","second string" \
    --srv-host=_sip._udp.example.test,sip.example.test,5060,1,2 \
    --ptr-record=80.0.99.10.in-addr.arpa,www.example.test \
    >/dev/null 2>&1 & pids+=($!)

# Captures.
ip netns exec "$srv" tcpdump -q -n -i vsrv -w "$work/ethernet.pcap" 2>/dev/null & pids+=($!); dump1=$!
ip netns exec "$srv" tcpdump -q -n -i vsrv --time-stamp-precision=nano -w "$work/ethernet-ns.pcap" 2>/dev/null & pids+=($!); dump2=$!
ip netns exec "$cli" tcpdump -q -n -i any -y LINUX_SLL -w "$work/sll.pcap" 2>/dev/null & pids+=($!); dump3=$!
ip netns exec "$cli" tcpdump -q -n -i any -y LINUX_SLL2 -w "$work/sll2.pcap" 2>/dev/null & pids+=($!); dump4=$!
sleep 2

# Clients: each bounded in count and time.
in_cli ping -c 2 -i 0.2 -W 1 10.99.0.1 >/dev/null
in_cli ping -6 -c 2 -i 0.2 -W 1 fd99::1 >/dev/null
in_cli ping -R -c 1 -W 1 10.99.0.1 >/dev/null          # IPv4 record-route option
in_cli ping -s 2000 -c 1 -W 1 10.99.0.1 >/dev/null     # IPv4 fragments
in_cli ping -6 -s 2000 -c 1 -W 1 fd99::1 >/dev/null    # IPv6 fragment headers
echo "hello over tcp" | in_cli timeout 5 nc -q 1 10.99.0.1 8090
echo "hello over tcp6" | in_cli timeout 5 nc -q 1 fd99::1 8092
echo "hello over udp" | in_cli timeout 5 nc -u -w 1 10.99.0.1 8091
in_cli timeout 5 curl -s -o /dev/null http://10.99.0.1:8080/index.html
for q in "www.example.test A" "www.example.test AAAA" "alias.example.test A" \
         "example.test MX" "example.test TXT" "_sip._udp.example.test SRV" \
         "-x 10.99.0.80" "nothere.example.test A"; do
    # shellcheck disable=SC2086
    in_cli timeout 5 dig +tries=1 +time=2 @10.99.0.1 $q >/dev/null
done
in_cli timeout 5 dig +tcp +tries=1 +time=2 @10.99.0.1 example.test MX >/dev/null
sleep 1

kill -INT "$dump1" "$dump2" "$dump3" "$dump4"
wait "$dump1" "$dump2" "$dump3" "$dump4" 2>/dev/null || true

for name in ethernet ethernet-ns sll sll2; do
    cp "$work/$name.pcap" "$here/$name.pcap"
done
"$here/update-expected.sh"
