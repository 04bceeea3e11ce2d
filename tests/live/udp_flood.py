#!/usr/bin/env python3
"""UDP at a fixed rate over several flows, and a receiver that counts it by source port:
the traffic of the flow-accounting tests (tests/live/accounting.rs), which compare each
flow's record with these counts (bench/flow_accounting.sh uses the faster Rust flooder,
which counts totals only).

  udp_flood.py send HOST PORT FLOWS RATE SECONDS [SIZE]
      FLOWS sockets send SIZE-byte datagrams (default 100) to HOST:PORT in turn, RATE a
      second in all, for SECONDS; prints {"sent": {source port: datagrams}} as JSON.
  udp_flood.py receive PORT SECONDS
      counts datagrams to PORT by source port until SECONDS have passed and none came for
      a second; prints {"received": {source port: datagrams}} as JSON.
"""
import json
import socket
import sys
import time


def send(host, port, flows, rate, seconds, size=100):
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(flows)]
    for s in sockets:
        s.connect((host, port))
    payload = b"x" * size
    sent = [0] * flows
    total = int(rate * seconds)
    start = time.monotonic()
    # In bursts of 64, each burst waiting for its time: the rate holds on average.
    for first in range(0, total, 64):
        due = start + first / rate
        while time.monotonic() < due:
            pass
        for i in range(first, min(first + 64, total)):
            flow = i % flows
            try:
                sockets[flow].send(payload)
                sent[flow] += 1
            except OSError:  # A full socket buffer: not sent, not counted.
                pass
    ports = {s.getsockname()[1]: n for s, n in zip(sockets, sent)}
    print(json.dumps({"sent": ports}))


def receive(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(1.0)
    received = {}
    end = time.monotonic() + seconds
    while True:
        try:
            _, (_, source) = s.recvfrom(65536)
            received[source] = received.get(source, 0) + 1
        except socket.timeout:
            if time.monotonic() >= end:
                break
    print(json.dumps({"received": received}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "send":
        host, port, flows, rate, seconds = args[0], int(args[1]), int(args[2]), float(args[3]), float(args[4])
        send(host, port, flows, rate, seconds, *(int(a) for a in args[5:6]))
    elif command == "receive":
        receive(int(args[0]), float(args[1]))
    else:
        sys.exit(f"udp_flood.py: unknown command {command!r} (send or receive)")
