#!/usr/bin/env bash
# Rewrites each golden capture's expected events (NAME.jsonl) from the committed capture
# with the current build, hostName blanked. Review the diff before committing it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
for capture in "$here"/*.pcap; do
    name=$(basename "$capture" .pcap)
    "$root/target/release/netcore" --json -r "$capture" \
        | sed -E 's/"hostName":"([^"\\]|\\.)*"/"hostName":""/' > "$here/$name.jsonl"
    echo "$name: $(wc -l < "$here/$name.jsonl") events"
done
