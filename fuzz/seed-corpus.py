#!/usr/bin/env python3
"""Writes the seed corpora from the golden captures. `packet`: every frame, prefixed with the
link-type selector and a 0-byte process-name length (see fuzz_targets/packet.rs). `dns` and
`dns_differential`: every DNS message over UDP or TCP. Run from the repository root; the
output is committed."""
import hashlib
import pathlib
import struct

LINK_TYPES = [1, 101, 113, 228, 229, 276, 0, 108, 9, 50, 105, 127, 239]  # order of netcore_core::LinkType::ALL
out = pathlib.Path("fuzz/corpus/packet")
out.mkdir(parents=True, exist_ok=True)
dns_dirs = [pathlib.Path("fuzz/corpus/dns"), pathlib.Path("fuzz/corpus/dns_differential")]
for d in dns_dirs:
    d.mkdir(parents=True, exist_ok=True)


def dns_message(linktype, frame):
    """The DNS message a frame carries over UDP or TCP port 53, if any."""
    offset = {1: 14, 113: 16, 276: 20}[linktype]
    ethertype = struct.unpack(">H", frame[offset - 2:offset])[0] if linktype != 276 else struct.unpack(">H", frame[0:2])[0]
    ip = frame[offset:]
    if ethertype == 0x0800 and len(ip) >= 20:
        proto, l4 = ip[9], ip[(ip[0] & 15) * 4:]
    elif ethertype == 0x86DD and len(ip) >= 40:
        proto, l4 = ip[6], ip[40:]
    else:
        return None
    if proto == 17 and len(l4) > 8 and 53 in struct.unpack(">HH", l4[:4]):
        return l4[8:]
    if proto == 6 and len(l4) > 20 and 53 in struct.unpack(">HH", l4[:4]):
        payload = l4[(l4[12] >> 4) * 4:]
        return payload[2:] if len(payload) > 2 else None
    return None


for pcap in sorted(pathlib.Path("tests/golden").glob("*.pcap")):
    data = pcap.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        entry = bytes([LINK_TYPES.index(linktype), 0]) + frame
        (out / hashlib.sha1(entry).hexdigest()).write_bytes(entry)
        message = dns_message(linktype, frame)
        if message:
            for d in dns_dirs:
                (d / hashlib.sha1(message).hexdigest()).write_bytes(message)
for d in [out, *dns_dirs]:
    print(f"{len(list(d.iterdir()))} seeds in {d}")
