#!/usr/bin/env python3
"""Prints netcore's benchmark medians per packet and its ratio to each peer measured in
the same `cargo bench` run, from criterion's files under target/criterion."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
if not root.is_dir():
    sys.exit(f"{root}: no criterion results; run `cargo bench -p netcore-bench` first")

for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    medians = {}
    for bench in sorted(p for p in group.iterdir() if (p / "new" / "estimates.json").exists()):
        estimates = json.loads((bench / "new" / "estimates.json").read_text())
        meta = json.loads((bench / "new" / "benchmark.json").read_text())
        elements = (meta.get("throughput") or {}).get("Elements") or 1
        medians[bench.name] = estimates["median"]["point_estimate"] / elements
    if not medians:
        continue
    print(f"{group.name}:")
    ours = medians.get("netcore")
    encoded = medians.get("encoded")  # filter_cost: each rejection against an encoded packet
    for name, ns in medians.items():
        if ours:
            ratio = f"  netcore/{name} = {ours / ns:.2f}" if name != "netcore" else ""
        else:
            ratio = f"  {name}/encoded = {ns / encoded:.2f}" if encoded and name != "encoded" else ""
        print(f"  {name:<12} {ns:10.1f} ns/packet (median){ratio}")
