#!/usr/bin/env python3
"""Delivery rate of each --output, measured in one run against real brokers.

A capture of 50,000 UDP packets (500 flows) is read with `--events net_packet_udp`
(one JSON event of ~900 bytes per packet) and written to a file, to core NATS, to a JetStream
stream (file storage, acknowledged) and to a Kafka topic on tansu (SQLite storage, 3
partitions, idempotent producer, acks=all). File mode blocks on a full queue, so every
run delivers every event; the time includes the drain. Starts nats-server and tansu on
free ports itself and removes them after.

Usage: python3 bench/outputs.py [path/to/netcore]   (default target/release/netcore)
Medians of 3 runs; prints a Markdown table for docs/performance.md.
"""

import os
import re
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

NETCORE = sys.argv[1] if len(sys.argv) > 1 else "target/release/netcore"
RUNS = 3
EVENTS = 50_000


def udp(i):
    payload = b"x" * 64
    sport, dport = 40000 + i % 500, 5353
    udp_header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 1, 0x4000, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return ip + udp_header + payload


def write_pcap(path, count):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        for i in range(count):
            data = udp(i)
            f.write(struct.pack("<IIII", 1_700_000_000 + i // 100_000, i % 100_000 * 10,
                                len(data), len(data)))
            f.write(data)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


def create_stream(port, name, subject):
    """Creates a JetStream stream binding `subject`, speaking NATS' text protocol."""
    config = ('{"name":"%s","subjects":["%s"],"storage":"file"}' % (name, subject)).encode()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.recv(4096)  # INFO
        s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.bench 1\r\n')
        s.sendall(b"PUB $JS.API.STREAM.CREATE.%s _INBOX.bench %d\r\n%s\r\n" % (name.encode(), len(config), config))
        answer = b""
        while True:
            answer += s.recv(4096)
            at = answer.find(b"MSG _INBOX.bench")
            end = answer.find(b"\r\n", at) if at >= 0 else -1
            if end >= 0 and len(answer) >= end + 2 + int(answer[at:end].split()[-1]):
                break
        if b'"error"' in answer:
            sys.exit(f"creating stream {name}: {answer!r}")


def deliver(capture, output):
    """Seconds to deliver every event to `output`, and netcore's CPU seconds meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([NETCORE, "-r", capture, "--events", "net_packet_udp", "--output", output],
                         capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    line = re.search(re.escape(output) + r": (\d+) events delivered, (\d+) dropped \(queue full\), "
                     r"(\d+) lost", out.stderr)
    if not line or int(line.group(1)) != EVENTS:
        sys.exit(f"{output}: not every event delivered: {out.stderr}")
    return seconds, cpu


def main():
    for program in ("nats-server", "tansu"):
        if not shutil.which(program):
            sys.exit(f"{program} is not installed (scripts/setup.sh installs it)")
    work = tempfile.mkdtemp(prefix="netcore-bench-outputs-")
    capture = os.path.join(work, "udp.pcap")
    write_pcap(capture, EVENTS)
    nats_port, kafka_port = free_port(), free_port()
    nats = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(nats_port),
                             "-sd", os.path.join(work, "js")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"tcp://127.0.0.1:{kafka_port}"
    tansu = subprocess.Popen(["tansu", "broker", "--listener-url", url, "--advertised-listener-url",
                              url, "--storage-engine", "sqlite://tansu.db"], cwd=work,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(nats_port)
        wait_port(kafka_port)
        subprocess.run(["tansu", "topic", "create", "--broker", url, "--partitions", "3", "bench"],
                       check=True, stdout=subprocess.DEVNULL)
        create_stream(nats_port, "BENCH", "bench.js")
        outputs = [
            ("file", f"file:{os.path.join(work, 'events.json')}"),
            ("NATS (core)", f"nats://127.0.0.1:{nats_port}/bench.core"),
            ("NATS JetStream (acknowledged)", f"nats://127.0.0.1:{nats_port}/bench.js"),
            ("Kafka (tansu)", f"kafka://127.0.0.1:{kafka_port}/bench"),
        ]
        rows = []
        for name, output in outputs:
            runs = []
            for _ in range(RUNS):
                if output.startswith("file:") and os.path.exists(output[5:]):
                    os.remove(output[5:])
                runs.append(deliver(capture, output))
            median = statistics.median(seconds for seconds, _ in runs)
            cpu = statistics.median(cpu for _, cpu in runs)
            rows.append((name, median, EVENTS / median, cpu))
        file_rate = rows[0][2]
        print(f"| output ({EVENTS:,} events, `-r`, medians of {RUNS}) | seconds | events/s | vs file "
              "| netcore CPU s |")
        print("|---|---|---|---|---|")
        for name, seconds, rate, cpu in rows:
            print(f"| {name} | {seconds:.2f} | {rate:,.0f} | {rate / file_rate:.2f}× | {cpu:.2f} |")
    finally:
        nats.terminate()
        tansu.terminate()
        nats.wait()
        tansu.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
