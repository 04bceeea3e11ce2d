#!/usr/bin/env python3
"""File-mode scaling: `netcore --json -r` on 1 and on N decoding threads, in one run.

The capture: the 88 frames of tests/golden/ethernet.pcap (TCP, UDP, DNS, HTTP, ICMP,
ICMPv6, fragments, ARP) repeated until it holds PACKETS packets, each copy's IPv4 and IPv6
addresses changed alike in both directions (IPv4 header checksums recomputed), so the
copies are distinct flows as on a busy host. Every run writes JSON to /dev/null; one run of
each thread count is hashed first to check the outputs are the same bytes.

Usage: python3 bench/scaling.py [path/to/netcore] [packets]
       (default target/release/netcore, 1,000,000 packets). Medians of RUNS runs each,
       alternating; prints a Markdown table for docs/performance.md.
"""

import hashlib
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

NETCORE = sys.argv[1] if len(sys.argv) > 1 else "target/release/netcore"
PACKETS = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
RUNS = 7
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                      "ethernet.pcap")


def checksum(header):
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_capture(path, count):
    data = open(GOLDEN, "rb").read()
    records, at = [], 24
    while at < len(data):
        sec, usec, caplen, wire = struct.unpack("<IIII", data[at:at + 16])
        records.append((sec * 1_000_000 + usec, wire, data[at + 16:at + 16 + caplen]))
        at += 16 + caplen
    span = records[-1][0] - records[0][0] + 1000
    with open(path, "wb") as out:
        out.write(data[:24])
        written, copy = 0, 0
        while written < count:
            for usec, wire, frame in records:
                frame = bytearray(frame)
                ethertype = struct.unpack("!H", frame[12:14])[0]
                if ethertype == 0x0800:
                    ihl = (frame[14] & 15) * 4
                    for address in (26, 30):
                        frame[address + 1] ^= copy & 0xFF
                        frame[address + 2] ^= copy >> 8 & 0xFF
                    frame[24:26] = b"\0\0"
                    frame[24:26] = struct.pack("!H", checksum(bytes(frame[14:14 + ihl])))
                elif ethertype == 0x86DD:
                    for address in (22, 38):
                        frame[address + 2] ^= copy & 0xFF
                        frame[address + 3] ^= copy >> 8 & 0xFF
                t = usec + copy * span
                out.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), wire))
                out.write(frame)
                written += 1
                if written == count:
                    break
            copy += 1


def run(capture, threads, output=subprocess.DEVNULL):
    """Wall time and CPU time (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([NETCORE, "--json", "--threads", str(threads), "-r", capture],
                   stdout=output, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def output_hash(capture, threads):
    result = subprocess.run([NETCORE, "--json", "--threads", str(threads), "-r", capture],
                            capture_output=True, check=True)
    return hashlib.sha256(result.stdout).hexdigest(), result.stdout.count(b"\n")


def main():
    cpus = len(os.sched_getaffinity(0))
    counts = sorted({1, 2, cpus})
    with tempfile.TemporaryDirectory() as tmp:
        capture = os.path.join(tmp, "scaling.pcap")
        write_capture(capture, PACKETS)
        hashes = {t: output_hash(capture, t) for t in counts}
        events = hashes[1][1]
        if len({h for h, _ in hashes.values()}) != 1:
            sys.exit(f"outputs differ between thread counts: {hashes}")
        times = {t: [] for t in counts}
        for _ in range(RUNS):
            for t in counts:
                times[t].append(run(capture, t))
    one = statistics.median(w for w, _ in times[1])
    print(f"{PACKETS:,} packets, {events:,} events, {cpus} CPUs; medians of {RUNS} runs; "
          "outputs identical across thread counts")
    print()
    print("| threads | wall | packets/s | events/s | CPU per packet | speed-up |")
    print("|---|---|---|---|---|---|")
    for t in counts:
        wall = statistics.median(w for w, _ in times[t])
        cpu = statistics.median(c for _, c in times[t])
        print(f"| {t} | {wall:.3f} s | {PACKETS / wall:,.0f} | {events / wall:,.0f} | "
              f"{cpu / PACKETS * 1e9:,.0f} ns | **{one / wall:.2f} ×** |")


if __name__ == "__main__":
    main()
