#!/usr/bin/env python3
"""Seeds the corpora of the fuzz targets added in issue 35 from the test captures and the
documentation: `http` and `tls` from the TCP payloads tshark reads as HTTP heads and TLS
ClientHellos in tests/**/*.pcap* (the committed `tls` seeds are three ClientHellos of
`openssl s_client` with SNI and ALPN, captured on loopback: the test captures hold none),
`filter` from the `--filter` expressions of
docs/filters.md and tests/filters.rs, `owner_comment` from owners like those the live
tests see. Files are named by the SHA-1 of their content, as libFuzzer names them; run
again, it adds only what is new. Usage: python3 fuzz/seed.py (tshark needed)."""
import glob, hashlib, os, re, struct, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save(target, data):
    directory = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def payloads(display_filter):
    found = set()
    for capture in sorted(glob.glob(os.path.join(ROOT, "tests", "**", "*.pcap*"), recursive=True)):
        out = subprocess.run(
            ["tshark", "-r", capture, "-Y", display_filter, "-T", "fields", "-e", "tcp.payload"],
            capture_output=True, text=True)
        for line in out.stdout.split():
            found.add(bytes.fromhex(line.replace(":", "")))
    return found


for payload in payloads("http.request or http.response"):
    for selector in range(4):  # the direction and the schema (fuzz_targets/http.rs)
        save("http", bytes([selector]) + payload)
for payload in payloads("tls.handshake.type == 1"):
    save("tls", payload)

expressions = set()
for path in [os.path.join(ROOT, "docs", "filters.md"), os.path.join(ROOT, "tests", "filters.rs")]:
    text = open(path).read()
    expressions.update(re.findall(r"--filter '([^']+)'", text))
    expressions.update(re.findall(r"--filter ([^\s`'|:]+)", text))
    expressions.update(re.findall(r'"--filter",\s*"([^"]+)"', text))
for expression in expressions:
    save("filter", expression.encode())
save("filter", "\n".join(sorted(expressions)[:8]).encode())

owners = [
    (4242, 4243, 4200, 1000, [b"curl", b"/usr/bin/curl", b"curl -s http://example.test/",
                              b"web", b"docker.io/library/nginx:1.27", b"web-7d4b9", b"shop"]),
    (1, 1, 1, 0, [b"nc", b"", b"sh -c 'x\nPID: 1'", b"", b"", b"", b""]),
    (77, 78, 1, 65534, [b"na\xffme\r", b" spaced ", b"Args: forged", b"a:b", b"\xe2\x80\xa8", b"", b""]),
]
for pid, tid, ppid, uid, texts in owners:
    save("owner_comment", struct.pack("<4I", pid, tid, ppid, uid) + b"\0".join(texts))
