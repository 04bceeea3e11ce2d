#!/usr/bin/env python3
"""The soak scripts' load (bench/memory_soak.sh, bench/fault_soak.sh): ~4,000 UDP datagrams
a second over loopback from 64 sockets replaced every 6,400 datagrams (new source ports,
new flows all the time), one in four a DNS query; for MINUTES and 30 s more, then it
stops. Usage: python3 bench/soak_load.py MINUTES"""
import socket, struct, sys, time

minutes = float(sys.argv[1])
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sink.bind(("127.0.0.1", 0))
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); dns.bind(("127.0.0.1", 0))
senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x04host\x07example\x04test\x00\x00\x01\x00\x01"
end = time.time() + minutes * 60 + 30
i = 0
while time.time() < end:
    for s in senders:
        s.sendto(query, dns.getsockname()) if i % 4 == 0 else s.sendto(b"x" * 200, sink.getsockname())
        i += 1
    if i % 6400 == 0:
        # New sockets: new source ports, new flows.
        for s in senders: s.close()
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
    time.sleep(0.016)
    for r in (sink, dns):
        r.setblocking(False)
        try:
            while True: r.recv(4096)
        except BlockingIOError:
            pass
