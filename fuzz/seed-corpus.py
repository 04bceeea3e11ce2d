#!/usr/bin/env python3
"""Writes the `packet` target's seed corpus: every frame of the golden captures, each
prefixed with the link-type selector and a 0-byte process-name length (see
fuzz_targets/packet.rs). Run from the repository root; the output is committed."""
import hashlib
import pathlib
import struct

LINK_TYPES = [1, 101, 113, 228, 229, 276]  # order of netcore_core::LinkType::ALL
out = pathlib.Path("fuzz/corpus/packet")
out.mkdir(parents=True, exist_ok=True)
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
print(f"{len(list(out.iterdir()))} seeds in {out}")
