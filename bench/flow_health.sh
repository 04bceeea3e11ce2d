#!/usr/bin/env bash
# The cost of connection health (issue 29): flow mode (`--events net_flow`) of this tree
# against the same of BASE (default 3d8b9c9, the last commit before the TCP analysis),
# both built here, on one 1,000,000-packet capture (bench/scaling.py's), alternating runs,
# one decoding thread. Prints the medians and the ratio (target: ≤ 1.15×).
#
#   bench/flow_health.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-3d8b9c9}
out=$(mktemp -d)
tree="$out/base"
trap 'git worktree remove --force "$tree" 2>/dev/null || true; rm -rf "$out"' EXIT
git worktree add --quiet --detach "$tree" "$base"
# The base builds into a folder of its own under target/, kept: a second run is quick.
base_target="$PWD/target/flow-health-base"
(cd "$tree" && CARGO_TARGET_DIR="$base_target" cargo build --release --quiet --bin netcore)
cp "$base_target/release/netcore" "$out/netcore-base"
cargo build --release --quiet --bin netcore
python3 - "$out" <<'PY'
import os, statistics, subprocess, sys, time
out = sys.argv[1]
sys.path.insert(0, "bench")
from scaling import write_capture

capture = os.path.join(out, "capture.pcap")
packets = 1_000_000
write_capture(capture, packets)
binaries = {"before": os.path.join(out, "netcore-base"), "with health": "target/release/netcore"}
times = {name: [] for name in binaries}
for _ in range(7):
    for name, binary in binaries.items():
        start = time.perf_counter()
        subprocess.run([binary, "--json", "--events", "net_flow", "--threads", "1", "-r", capture],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[name].append(time.perf_counter() - start)
before, after = (statistics.median(times[n]) for n in binaries)
print(f"{packets:,} packets, flow mode, 1 thread, medians of 7 alternating runs")
for name in binaries:
    print(f"  {name}: {statistics.median(times[name]):.3f} s  ({', '.join(f'{t:.3f}' for t in times[name])})")
ratio = after / before
print(f"with health / before: {ratio:.3f}× (target ≤ 1.15×): {'met' if ratio <= 1.15 else 'MISSED'}")
PY
