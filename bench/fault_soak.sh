#!/usr/bin/env bash
# A host-mode run under steady load with faults (issue 35): the JetStream server it writes
# to is stopped and started again every minute, SIGHUP arrives every 30 s, and the disk
# `-w` rotates on (a 16 MB tmpfs) is filled a third into the run and freed at two thirds.
# Prints a Markdown table of the resident memory every 30 s, then netcore's own account of
# the run and checks it: exit 0, every event of each output delivered, dropped or counted
# lost, the full disk named. As root; nats-server needed.
#
# Usage: bench/fault_soak.sh [MINUTES] [path/to/netcore]   (default 10, target/release/netcore)
set -euo pipefail
minutes=${1:-10}
netcore=${2:-target/release/netcore}
[ "$(id -u)" -eq 0 ] || { echo "fault_soak: needs root (host capture, tmpfs)" >&2; exit 1; }
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
mkdir -p "$work/disk" "$work/js"
mount -t tmpfs -o size=16m tmpfs "$work/disk"
pid='' load='' nats=''
cleanup() {
    for p in $load $pid $nats; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    umount "$work/disk" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
start_nats() {
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/js" >/dev/null 2>&1 &
    nats=$!
    for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
}
start_nats
# A JetStream stream binding soak.events, made with the client protocol itself.
python3 - "$port" <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(4096)  # INFO
config = json.dumps({"name": "SOAK", "subjects": ["soak.events"], "storage": "file"}).encode()
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.soak 1\r\n'
          + b"PUB $JS.API.STREAM.CREATE.SOAK _INBOX.soak %d\r\n" % len(config) + config + b"\r\nPING\r\n")
reply = b""
while b"MSG _INBOX.soak" not in reply:
    reply += s.recv(4096)
PY

"$netcore" --json --events net_packet_ipv4,net_packet_udp,net_packet_dns,net_flow \
    --output "nats://127.0.0.1:$port/soak.events" --output "file:$work/events.json?max-size=2&max-files=2" \
    -w "$work/disk/cap.pcapng" -C 1 -W 8 --stats 30 >/dev/null 2>"$work/stderr" &
pid=$!
for _ in $(seq 100); do grep -q "capturing on" "$work/stderr" 2>/dev/null && break; sleep 0.1; done

# ~4,000 datagrams a second from rotating source ports (new flows all the time), one in
# four a DNS query, for the whole run.
python3 "$(dirname "$0")/soak_load.py" "$minutes" &
load=$!

echo "| minute | packets | RSS (MiB) | fault this half-minute |"
echo "|---|---|---|---|"
steps=$((minutes * 2))
for ((m = 0; m <= steps; m++)); do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    packets=$(grep -o 'stats: [0-9]* packets' "$work/stderr" | tail -1 | grep -o '[0-9]*' || echo 0)
    fault="SIGHUP"
    kill -HUP "$pid"
    if [ $((m % 2)) -eq 1 ]; then
        kill "$nats"; wait "$nats" 2>/dev/null || true; sleep 2; start_nats
        fault="$fault, JetStream server restarted"
    fi
    if [ "$m" -eq $((steps / 3)) ]; then
        dd if=/dev/zero of="$work/disk/filler" bs=1M count=16 2>/dev/null || true
        fault="$fault, disk filled"
    fi
    if [ "$m" -eq $((2 * steps / 3)) ]; then
        rm -f "$work/disk/filler"
        fault="$fault, disk freed"
    fi
    printf '| %.1f | %s | %.1f | %s |\n' "$(echo "$m / 2" | bc -l)" "${packets:-0}" "$(echo "$rss / 1024" | bc -l)" "$fault"
    [ "$m" -lt "$steps" ] && sleep 30
done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
pid=''
echo
grep -v "stats:" "$work/stderr" | sort | uniq -c | sort -rn | cut -c1-400
echo
[ "$status" -eq 0 ] || { echo "FAIL: netcore exited with $status" >&2; exit 1; }
written=$(grep -o '[0-9]* events written' "$work/stderr" | tail -1 | grep -o '^[0-9]*')
# Each output's delivered + dropped + lost against the events written.
grep 'netcore: outputs:' "$work/stderr" | tr ';' '\n' | while read -r line; do
    counts=$(echo "$line" | grep -oE '[0-9]+ events delivered, [0-9]+ dropped \(queue full\), [0-9]+ lost' | grep -oE '[0-9]+' | paste -sd+ | bc)
    echo "$line" | grep -q 'events delivered' || continue
    if [ "$counts" -eq "$written" ]; then
        echo "ok: $(echo "$line" | sed 's/netcore: outputs: //'): all $written events accounted for"
    else
        echo "FAIL: $line: $counts of $written events accounted for" >&2
        exit 1
    fi
done
grep -q -- "-w $work/disk/cap.pcapng.*No space left on device" "$work/stderr" &&
    echo "ok: the full disk was named" || { echo "FAIL: the full disk was not named" >&2; exit 1; }
