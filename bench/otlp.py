#!/usr/bin/env python3
"""What an OTLP record costs netcore against a JSON line written to a file, same run.

A capture of 50,000 UDP packets (`--events net_packet_udp`: one event a packet) is read
into a file output and into OTLP over gRPC and over HTTP (tests/data/otlp/receiver.py in
`--quiet` mode, grpcio + opentelemetry-proto, counting what arrives). netcore's own CPU
time (user + system, from the kernel's accounting of the child) is the
figure; each record's share is the run's CPU per event. Medians of RUNS (default 5).

Usage: python3 bench/otlp.py [path/to/netcore]   (default target/release/netcore)
Prints a Markdown table for docs/performance.md; the ratio is OTLP's CPU per event over
the file output's.
"""

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from outputs import EVENTS, free_port, wait_port, write_pcap  # noqa: E402

NETCORE = sys.argv[1] if len(sys.argv) > 1 else "target/release/netcore"
RUNS = int(os.environ.get("RUNS", "5"))
RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                        "otlp", "receiver.py")


def run(capture, output):
    """netcore's CPU seconds to read `capture` into `output`; every event delivered."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([NETCORE, "-r", capture, "--events", "net_packet_udp", "--output", output],
                         capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = re.search(re.escape(output) + r": (\d+) events delivered", out.stderr)
    if not line or int(line.group(1)) != EVENTS:
        sys.exit(f"{output}: not every event delivered: {out.stderr}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main():
    work = tempfile.mkdtemp(prefix="netcore-bench-otlp-")
    capture = os.path.join(work, "udp.pcap")
    write_pcap(capture, EVENTS)
    receivers, outputs = [], [("JSON lines to a file", f"file:{os.path.join(work, 'events.json')}")]
    try:
        for transport, scheme in (("grpc", "otlp"), ("http", "otlp+http")):
            port = free_port()
            receivers.append(subprocess.Popen(
                [sys.executable, RECEIVER, transport, str(port), "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(port)
            outputs.append((f"OTLP/{transport} records", f"{scheme}://127.0.0.1:{port}"))
        rows = []
        for name, output in outputs:
            cpus = []
            for _ in range(RUNS):
                if output.startswith("file:") and os.path.exists(output[5:]):
                    os.remove(output[5:])
                cpus.append(run(capture, output))
            rows.append((name, statistics.median(cpus)))
        file_cpu = rows[0][1]
        print(f"| output ({EVENTS:,} events, `-r`, medians of {RUNS}) | netcore CPU s "
              "| µs per event | vs file |")
        print("|---|---|---|---|")
        for name, cpu in rows:
            print(f"| {name} | {cpu:.3f} | {cpu / EVENTS * 1e6:.2f} | {cpu / file_cpu:.2f}× |")
    finally:
        for receiver in receivers:
            receiver.terminate()
            receiver.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
