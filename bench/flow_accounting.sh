#!/usr/bin/env bash
# Flow accounting in the kernel and the CPU budget (issue 30): a UDP flood at a fixed rate
# over 16 flows between two test namespaces, four times — netcore writing every event,
# `--events net_flow` (the kernel counts the flows), `--events net_flow
# --user-flow-accounting` (every packet counted in user space, as before), and every
# event with net_flow under `--cpu-budget 0.1`; then `--events net_flow` at the highest
# rate the flooder reaches, for the drop counters. Prints netcore's CPU per packet sent in
# each and the ratios (target: net_flow ≤ 0.05× every event), the budget run's share of a
# core (target: ≤ 0.11), the capture program's kernel time per run (bpf_stats), and
# whether the flow records' counters equal the sender's and the receiver's counts. Root
# only; touches nothing but the namespaces it creates.
#
#   bench/flow_accounting.sh [RATE_PPS=100000] [SECONDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-100000}
seconds=${2:-5}
settle=2
. bench/common.sh
bench_setup flow_accounting.sh "eBPF, netns"

tag="ncf$$"
out=$(mktemp -d)
trap 'remove_namespaces "$tag"; rm -rf "$out"' EXIT
two_namespaces "$tag" 10.251.0

# UDP datagrams the receiver's namespace dropped for a full socket buffer (after capture).
rcvbuf_errors() {
    ip netns exec "$tag-a" awk '/^Udp: [0-9]/{print $6}' /proc/net/snmp
}

# run NAME ARGS…: netcore ARGS (events to $out/NAME.json, stderr to $out/NAME.log) around
# one flood; prints "NAME sent received netcore_ticks receiver_drops".
run() {
    local name=$1
    shift
    "$netcore" --json --stats 1 "$@" >"$out/$name.json" 2>"$out/$name.log" &
    local pid=$!
    for _ in $(seq 100); do grep -q "capturing on" "$out/$name.log" && break; sleep 0.1; done
    ip netns exec "$tag-a" "$flood" recv 10.251.0.1:9999 1 >"$out/$name.recv" &
    local receiver=$!
    sleep 0.3
    local before after drops_before sender
    drops_before=$(rcvbuf_errors)
    ip netns exec "$tag-b" "$flood" send 10.251.0.1:9999 "$rate" "$seconds" 100 16 \
        >"$out/$name.sent" &
    sender=$!
    # The steady state: from $settle s into the flood (the budget's first ticks) to its end.
    sleep "$settle"
    before=$(proc_ticks "$pid")
    wait "$sender"
    after=$(proc_ticks "$pid")
    wait "$receiver"
    kill -INT "$pid"
    wait "$pid"
    echo "$name $(cat "$out/$name.sent") $(cat "$out/$name.recv") $((after - before)) $(($(rcvbuf_errors) - drops_before))"
}

# Tracee's packet events (netcore's default) and the flows.
every=net_packet_ipv4,net_packet_ipv6,net_packet_tcp,net_packet_udp,net_packet_icmp
every+=,net_packet_icmpv6,net_packet_dns,net_packet_dns_request,net_packet_dns_response
{
    run every_event
    run net_flow --events net_flow
    run user_counted --events net_flow --user-flow-accounting
    run budget --events "$every,net_flow" --cpu-budget 0.1
    # As fast as the flooder can send (it is bounded at 10 M datagrams): the drops.
    rate=2000000 run max_rate --events net_flow
} >"$out/runs"

python3 - "$out" "$rate" "$seconds" "$hz" "$settle" <<'PY'
import json, os, re, sys
out, rate, seconds, hz, settle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
tick_ns = 1e9 / hz
runs = {}
for line in open(os.path.join(out, "runs")):
    name, sent, received, ticks, drops = line.split()
    # What reached the receiving socket: what it read and what its full buffer dropped.
    runs[name] = (int(sent), int(received) + int(drops), int(ticks))
print(f"load: UDP, 100-byte payloads, {rate} packets/s over 16 flows for {seconds} s, "
      f"veth between two namespaces; netcore's CPU from {settle} s into each flood to its end")

def kernel_time(name):
    """The capture program's ns per run on the last --stats line, and the summary."""
    log = open(os.path.join(out, f"{name}.log")).read()
    costs = re.findall(r"capture (\d+) ns/run", log)
    summary = next(l for l in log.splitlines() if "host capture:" in l)
    return (int(costs[-1]) if costs else None), summary

per_packet = {}
for name, (sent, received, ticks) in runs.items():
    # CPU over the steady state, per packet sent in it.
    per_packet[name] = ticks * tick_ns / (sent * (seconds - settle) / seconds)
    ns_run, summary = kernel_time(name)
    read = re.search(r"(\d+) packets \(\d+ bytes\) read", summary).group(1)
    kept = re.search(r"(\d+) counted in their flows only", summary)
    print(f"{name:>13}: sent {sent}, reached the receiving socket {received}; netcore {per_packet[name]:.0f} ns "
          f"CPU per packet sent; {read} packets read by user space"
          + (f", {kept.group(1)} counted in the kernel only" if kept else "")
          + (f"; capture program {ns_run} ns/run" if ns_run is not None else ""))

def totals(name):
    """orig_packets summed over the flood's records, by conn_direction."""
    sums = {}
    for line in open(os.path.join(out, f"{name}.json")):
        event = json.loads(line)
        if event.get("eventName") != "net_flow":
            continue
        args = {a["name"]: a["value"] for a in event["args"]}
        if args.get("dst_port") == 9999:
            sums[args["conn_direction"]] = sums.get(args["conn_direction"], 0) + args["orig_packets"]
    return sums

for name in ("net_flow", "user_counted", "budget", "max_rate"):
    sent, received, _ = runs[name]
    sums = totals(name)
    exact = sums.get("outgoing") == sent and sums.get("incoming") == received
    print(f"{name} records: sender's namespace {sums.get('outgoing')} (sent {sent}), "
          f"receiver's {sums.get('incoming')} (reached the socket {received}): "
          f"{'exact' if exact else 'NOT EXACT'}")
_, summary = kernel_time("max_rate")
sent, reached, _ = runs["max_rate"]
lost = re.search(r"(\d+) lost to a full ring buffer", summary).group(1)
print(f"max_rate (asked 2,000,000/s): sent {sent} in {seconds} s, {reached} reached the "
      f"receiving socket; ring-buffer drops {lost}; {summary.split('kernel: ')[1].split(';')[0]}")
ratio = per_packet["net_flow"] / per_packet["every_event"]
print(f"net_flow / every event: {ratio:.3f}× (target ≤ 0.05×): {'met' if ratio <= 0.05 else 'MISSED'}")
print(f"user-counted net_flow / every event: "
      f"{per_packet['user_counted'] / per_packet['every_event']:.3f}×")
_, _, ticks = runs["budget"]
share = ticks * tick_ns / ((seconds - settle) * 1e9)
print(f"--cpu-budget 0.1: {share:.3f} of a core from {settle} s into the flood to its end "
      f"(target ≤ 0.11): "
      f"{'met' if share <= 0.11 else 'MISSED'}; "
      + (re.search(r"packet events of one packet in .*?packets not sent up\)",
                   kernel_time("budget")[1]) or re.search("$", "")).group(0))
PY
