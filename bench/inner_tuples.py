#!/usr/bin/env python3
"""How often netcore's innermost tuple of a packet equals tshark's, capture by capture.

For each capture under tests/ (default: tests/data/tcpdump, differs/ included, and
tests/golden), every packet with an IP layer: tshark's innermost addresses (the last
ip/ipv6 source and destination it shows) and the ports of the last TCP or UDP header
after them, against the tuple of netcore's innermost IP event, with its transport event's ports,
for the same capture time. ICMP errors quote a packet: tshark shows the quoted
header last, netcore the ICMP packet's own, so for those the outer ICMP header's IP
layer is compared (as the differential test does). Prints a Markdown table and the total.

Usage: python3 bench/inner_tuples.py [netcore] [capture…]
"""

import glob
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NETCORE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/netcore")
CAPTURES = sys.argv[2:] or sorted(
    glob.glob(os.path.join(ROOT, "tests/data/tcpdump/*.pcap*"))
    + glob.glob(os.path.join(ROOT, "tests/data/tcpdump/differs/*.pcap*"))
    + glob.glob(os.path.join(ROOT, "tests/golden/*.pcap")))
TRANSPORT = {"net_packet_tcp", "net_packet_udp"}
NETWORK = {"net_packet_ipv4", "net_packet_ipv6"}


def netcore_tuples(path):
    """Capture time (ns) → the innermost (src, dst, sport, dport) netcore reports: with
    `--tunnel both` every layer's events come outer first, so the last IP event of a
    packet, with the ports of the transport event after it, is its innermost tuple (a
    tunnel whose payload is no IP, e.g. ARP in VXLAN, keeps the tunnel's own, as
    tshark's)."""
    out = subprocess.run([NETCORE, "--json", "--tunnel", "both", "-r", path],
                         capture_output=True, text=True)
    tuples = {}
    for line in out.stdout.splitlines():
        event = json.loads(line)
        name = event["eventName"]
        args = {a["name"]: a["value"] for a in event["args"]}
        key = event["timestamp"]
        if name in NETWORK:
            tuples[key] = (args["src"], args["dst"], "", "")
        elif name in TRANSPORT and tuples.get(key, ())[:2] == (args["src"], args["dst"]):
            tuples[key] = (args["src"], args["dst"], str(args["src_port"]), str(args["dst_port"]))
    return tuples


def tshark_tuples(path):
    """Capture time (ns) → tshark's innermost tuple, for packets with an IP layer."""
    fields = ["frame.time_epoch", "frame.protocols", "ip.src", "ip.dst", "ipv6.src",
              "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]
    out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=|",
                          "-E", "occurrence=a", "-E", "aggregator=,"]
                         + [a for f in fields for a in ("-e", f)],
                         capture_output=True, text=True)
    tuples = {}
    for line in out.stdout.splitlines():
        f = line.split("|")
        seconds, _, fraction = f[0].partition(".")
        key = int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])
        values = {name: [v for v in value.split(",") if v] for name, value in zip(fields, f)}
        layers = f[1].split(":")
        # What an ICMP error quotes is not the packet's own: stop at the first ICMP.
        for i, layer in enumerate(layers):
            if layer in ("icmp", "icmpv6"):
                layers = layers[:i]
                break
        ip_at = [i for i, layer in enumerate(layers) if layer in ("ip", "ipv6")]
        if not ip_at:
            continue
        at = ip_at[-1]
        family = layers[at]
        nth = layers[:at + 1].count(family) - 1
        try:
            src = values[f"{family}.src"][nth]
            dst = values[f"{family}.dst"][nth]
        except IndexError:
            continue
        ports = ("", "")
        for transport in ("tcp", "udp"):
            if transport in layers[at + 1:]:
                index = layers[at + 1:].index(transport) + at + 1
                nth = layers[:index + 1].count(transport) - 1
                try:
                    ports = (values[f"{transport}.srcport"][nth], values[f"{transport}.dstport"][nth])
                except IndexError:
                    pass
                break
        tuples[key] = (src, dst) + ports
    return tuples


def main():
    total = agree = 0
    print("| capture | packets with IP | innermost tuple equal | % |")
    print("|---|---|---|---|")
    for path in CAPTURES:
        theirs = tshark_tuples(path)
        ours = netcore_tuples(path)
        same = sum(1 for key, t in theirs.items() if ours.get(key) == t)
        total += len(theirs)
        agree += same
        if theirs:
            print(f"| {os.path.relpath(path, ROOT)} | {len(theirs)} | {same} | {100 * same / len(theirs):.1f} |")
    print(f"| **all** | {total} | {agree} | {100 * agree / max(total, 1):.2f} |")


if __name__ == "__main__":
    main()
