#!/usr/bin/env python3
"""Cost of the detections and of flows, measured in one run on generated captures.

Signatures: a 200,000-packet capture (half DNS responses, half TCP SYNs) read with
`--json` alone, with the built-in signatures, and with the Rego examples of
tests/data/rego; the difference per selected event is each one's cost. A capture of TCP
SYNs only, read with and without `--signatures dns_e2e` (which selects DNS), shows the
cost on packets no signature selects. Flows: captures of 10,000 and 1,000,000 distinct UDP
flows read with `--events net_flow`: time per packet and peak memory per flow.

Usage: python3 bench/detections.py [path/to/netcore]   (default target/release/netcore)
Medians of 5 runs; prints a Markdown table for docs/performance.md.
"""

import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

NETCORE = sys.argv[1] if len(sys.argv) > 1 else "target/release/netcore"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 5


def ipv4(src, dst, proto, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0,
                         bytes(src), bytes(dst))
    return header + payload


def udp(src, dst, sport, dport, payload):
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def tcp_syn(src, dst, sport, dport):
    return ipv4(src, dst, 6, struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0))


def name(text):
    return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".")) + b"\0"


def dns_answer(i):
    question = name(f"host{i % 5000}.example.test") + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([10, 1, (i >> 8) & 255, i & 255])
    return struct.pack("!HHHHHH", i & 0xFFFF, 0x8180, 1, 1, 0, 0) + question + answer


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        for i, data in enumerate(packets):
            f.write(struct.pack("<IIII", 1_700_000_000 + i // 100_000, i % 100_000 * 10, len(data), len(data)))
            f.write(data)


def run(args):
    """Median wall time (s) of RUNS runs, and their largest peak RSS (KiB)."""
    times, peak = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        child = subprocess.Popen([NETCORE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        assert os.waitstatus_to_exitcode(status) == 0, args
        peak = max(peak, usage.ru_maxrss)
    return statistics.median(times), peak


def main():
    tmp = tempfile.mkdtemp(prefix="netcore-bench-")
    client, resolver, server = [10, 0, 0, 2], [10, 0, 0, 53], [10, 0, 0, 9]
    mixed = os.path.join(tmp, "mixed.pcap")
    write_pcap(mixed, (udp(resolver, client, 53, 40000 + i % 20000, dns_answer(i)) if i % 2 == 0
                       else tcp_syn(client, server, 40000 + i % 20000, 1 + i % 1000)
                       for i in range(200_000)))
    syns = os.path.join(tmp, "syns.pcap")
    write_pcap(syns, (tcp_syn(client, server, 40000 + i % 20000, 443) for i in range(200_000)))
    rego = os.path.join(ROOT, "tests/data/rego")
    base, _ = run(["--json", "-r", mixed])
    builtin, _ = run(["--json", "--signatures", "builtin", "-r", mixed])
    with_rego, _ = run(["--json", "--signatures", rego, "-r", mixed])
    plain, _ = run(["--json", "-r", syns])
    unselected, _ = run(["--json", "--signatures", "dns_e2e", "-r", syns])
    selected = 100_000  # every built-in selects DNS or TCP; each Rego example selects DNS
    print("| measurement | median | per event |")
    print("|---|---|---|")
    print(f"| 200,000 packets, `--json` | {base * 1e3:.0f} ms | |")
    print(f"| … `--signatures builtin` (5 signatures; ioc needs a list) | {builtin * 1e3:.0f} ms | "
          f"{(builtin - base) / 200_000 * 1e9:.0f} ns per selected event, all five |")
    print(f"| … `--signatures tests/data/rego` (2 Rego signatures on 100,000 DNS events) | "
          f"{with_rego * 1e3:.0f} ms | {(with_rego - base) / selected * 1e6:.1f} µs per event |")
    print(f"| 200,000 SYNs, `--json` / with `--signatures dns_e2e` (selects none of them) | "
          f"{plain * 1e3:.0f} / {unselected * 1e3:.0f} ms | ratio {unselected / plain:.3f} |")
    for flows in (10_000, 1_000_000):
        path = os.path.join(tmp, f"flows-{flows}.pcap")
        write_pcap(path, (udp(client, [10, (i >> 16) & 255, (i >> 8) & 255, i & 255], 5000, 6000, b"x")
                          for i in range(flows)))
        t, rss = run(["--json", "--events", "net_flow", "--max-flows", str(flows + 1), "-r", path])
        t0, rss0 = run(["--json", "--events", "net_packet_udp", "-r", path])
        print(f"| {flows:,} distinct UDP flows, `--events net_flow` | {t * 1e3:.0f} ms "
              f"(`net_packet_udp` alone: {t0 * 1e3:.0f} ms) | {(t - t0) / flows * 1e9:.0f} ns per packet for the "
              f"flow table; peak RSS {rss / 1024:.0f} MiB ({max(rss - rss0, 0) * 1024 / flows:.0f} bytes per flow "
              f"above the events alone) |")


if __name__ == "__main__":
    main()
