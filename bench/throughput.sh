#!/usr/bin/env bash
# Issue 17's benchmarks in one run, each printed with its target: file mode on one and two
# threads, the capture program's kernel time, AF_XDP's full decode against its raw loop,
# (one rx queue, then two read by a thread each), and DNS decode against NLnet Labs'
# `domain` and hickory-proto. Root only (the live parts); about 10 minutes on 2 vCPUs.
#
#   bench/throughput.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== file mode, 1 vs 2 decoding threads (target: 2 threads ≥ 1.70× the throughput of 1)"
python3 bench/scaling.py
echo
echo "== capture program, kernel time per run (target: ≤ 150 ns with headers only)"
bash bench/kernel_cost.sh 5
echo
echo "== AF_XDP, full decode + JSON against the raw receive loop (target: ≤ 1.30×, lossless)"
bash bench/xdp_overhead.sh
echo
echo "== AF_XDP with two rx queues, each read by a decoding thread of its own (same target)"
QUEUES=2 RUNS=3 bash bench/xdp_overhead.sh 4 2000000 --threads 2
echo
echo "== DNS decode (targets: netcore/domain ≤ 0.60 and netcore/hickory-proto ≤ 0.17 on the typical responses)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cargo bench -p netcore-bench --bench dns -- 'dns_decode_(typical|ptr48)/' >"$log" 2>&1; then
    tail -n 30 "$log"
    exit 1
fi
python3 bench/report.py | awk '/^[^ ]/ { show = ($0 ~ /^dns_decode_(typical|ptr48):/) } show'
