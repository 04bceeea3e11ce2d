#!/usr/bin/env bash
# AF_XDP capture cost: a flooder in a test namespace sends UDP as fast as it can (bounded in
# packets and seconds) to a veth whose other end netcore captures with --xdp; the same run
# measures netcore's raw loop (frames consumed and recycled, nothing decoded: --xdp-discard)
# and full capture (decode + Tracee JSON to /dev/null). Prints received packets/s, loss and
# netcore's CPU per packet for both, and their ratio. Root only.
#
#   [RUNS=5] bench/xdp_overhead.sh [SECONDS=4] [RATE_PPS=2000000] [NETCORE ARGS…]   (e.g. --threads 1)
#
# QUEUES=N (default 1) gives the veth pair N queues each way, and the flooder sends over
# FLOWS (default 32) UDP flows, which the peer spreads over its queues: with N > 1, each
# decoding thread reads its own queues. NETCORE=PATH measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-4}
rate=${2:-2000000}
extra=("${@:3}")
. bench/common.sh
bench_setup xdp_overhead.sh "XDP, netns"

tag="ncx$$"
cleanup() { ip link del "$tag-c" 2>/dev/null || true; ip netns del "$tag-p" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$tag-p"
queues=${QUEUES:-1}
ip link add "$tag-c" numtxqueues "$queues" numrxqueues "$queues" type veth peer name "$tag-v" \
    numtxqueues "$queues" numrxqueues "$queues" netns "$tag-p"
ip addr add 10.251.0.1/24 dev "$tag-c"; ip link set "$tag-c" up
ip -n "$tag-p" addr add 10.251.0.2/24 dev "$tag-v"; ip -n "$tag-p" link set "$tag-v" up
ip netns exec "$tag-p" ping -c1 -W2 10.251.0.1 >/dev/null   # resolve the MAC first


# One run: prints "sent received cpu_ticks dropped".
measure() {
    local log=/tmp/$tag.log
    start_netcore "$log" --xdp "$tag-c" "$@" "${extra[@]}"
    local before after sent
    before=$(proc_ticks "$netcore_pid")
    sent=$(ip netns exec "$tag-p" "$flood" send 10.251.0.1:9999 "$rate" "$seconds" 18 "${FLOWS:-32}")
    sleep 0.3
    after=$(proc_ticks "$netcore_pid")
    stop_netcore
    local summary received dropped
    summary=$(grep "AF_XDP capture:" "$log")
    received=$(sed -E 's/.*capture: ([0-9]+) frames received.*/\1/' <<<"$summary")
    dropped=$(sed -E 's/.*dropped: ([0-9]+) rx ring full, ([0-9]+) fill ring empty, ([0-9]+) other.*/\1 \2 \3/' <<<"$summary" | awk '{print $1+$2+$3}')
    grep -q "copy mode" "$log" && mode=copy || mode=zero-copy
    rm -f "$log"
    echo "$sent $received $((after - before)) $dropped $mode"
}

# RUNS alternating pairs (default 5): the target is on the median.
runs=${RUNS:-5}
results=()
for _ in $(seq "$runs"); do
    read -r raw_sent raw_recv raw_ticks raw_drop mode < <(measure --xdp-discard)
    read -r full_sent full_recv full_ticks full_drop _ < <(measure)
    results+=("$raw_sent" "$raw_recv" "$raw_ticks" "$raw_drop" \
        "$full_sent" "$full_recv" "$full_ticks" "$full_drop")
done

python3 - "$seconds" "$hz" "$mode" "$queues" "${results[@]}" <<'PY'
import statistics
import sys
seconds, hz = int(sys.argv[1]), int(sys.argv[2])
mode, queues = sys.argv[3], sys.argv[4]
numbers = list(map(int, sys.argv[5:]))
tick_ns = 1e9 / hz
print(f"AF_XDP on veth ({mode} mode, {queues} rx queue(s)), UDP flood from a peer namespace "
      f"for {seconds} s, {len(numbers) // 8} runs of each")
names = ("raw loop (--xdp-discard)", "full decode + JSON")
cpu = {name: [] for name in names}
for i in range(0, len(numbers), 8):
    for name, (sent, recv, ticks, drop) in zip(names, (numbers[i:i + 4], numbers[i + 4:i + 8])):
        per_packet = ticks * tick_ns / max(recv, 1)
        cpu[name].append(per_packet)
        loss = 100 * max(sent - recv, 0) / max(sent, 1)  # received may include a few stray frames (IPv6 MLD)
        print(f"{name:<26} sent {sent}, received {recv} ({recv / seconds / 1e3:.0f} k/s), "
              f"loss {loss:.3f} % (socket drops {drop}), netcore CPU {per_packet:.0f} ns/packet")
ratios = [f / max(r, 1e-9) for r, f in zip(*cpu.values())]
raw, full = (statistics.median(cpu[name]) for name in names)
print(f"medians: raw loop {raw:.0f} ns/packet, full {full:.0f} ns/packet")
print(f"CPU per packet, full / raw: median {statistics.median(ratios):.2f} "
      f"(runs {', '.join(f'{r:.2f}' for r in ratios)})")
PY
