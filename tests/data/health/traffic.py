#!/usr/bin/env python3
"""The traffic of record.sh: a server that reads fast or slowly, and a client that sends.

  traffic.py server HOST PORT CONNECTIONS
  traffic.py client HOST PORT PLAN      PLAN: connections as KINDBYTES,…, e.g. f1000000,s120000

Each client connection sends its kind, then its bytes; the kind says how the server
reads: `f` at once, `s` 2 KiB every 50 ms into a 4 KiB receive buffer (zero windows
follow).
"""
import socket
import sys
import threading
import time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
if mode == "server":
    listener = socket.socket(family)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind((host, port))
    listener.listen(8)

    def serve(conn, slow):
        while True:
            if slow:
                time.sleep(0.05)
            if not conn.recv(2048 if slow else 65536):
                break
        conn.close()

    for _ in range(int(sys.argv[4])):
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, conn.recv(1) == b"s")).start()
else:
    for connection in sys.argv[4].split(","):
        kind, size = connection[0], int(connection[1:])
        conn = socket.create_connection((host, port))
        conn.sendall(kind.encode() + b"x" * size)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
        conn.close()
