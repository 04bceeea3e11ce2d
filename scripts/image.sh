#!/usr/bin/env bash
# Builds the netcore container image without pulling anything: the release binary and the
# shared libraries it links, in an otherwise empty root, imported with `podman import`.
# Usage: scripts/image.sh [TAG] (default netcore:VERSION). Prints the tag on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag=${1:-netcore:$version}
cargo build --release --quiet --bin netcore
binary=target/release/netcore

root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
install -D -m 755 "$binary" "$root/usr/bin/netcore"
# The dynamic loader and every library the binary needs, at their own paths.
for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
    install -D -m 755 "$lib" "$root$lib"   # the loader must be executable
done
mkdir -p "$root/proc" "$root/sys" "$root/tmp" "$root/etc"
echo "netcore" > "$root/etc/hostname"
tar -C "$root" -c . | podman import \
    --change 'ENTRYPOINT ["/usr/bin/netcore"]' \
    --change 'CMD ["--json"]' \
    --change "LABEL org.opencontainers.image.title=netcore org.opencontainers.image.version=$version" \
    - "$tag" >/dev/null
echo "$tag"
