#!/usr/bin/env bash
# `cargo install`s netcore, builds the .deb and the container image, installs/runs each,
# and removes them again:
# what a user gets must start and decode a capture. Run as root (dpkg, podman).
set -euo pipefail
cd "$(dirname "$0")/.."

capture=tests/golden/ethernet.pcap
tag="localhost/netcore:ci-$$"
cleanup() {
    dpkg -r netcore >/dev/null 2>&1 || true
    podman rmi -f "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# cargo install: the kernel programs are built once and embedded in the one binary.
root=$(mktemp -d)
cargo install --path . --locked --root "$root" --target-dir target --quiet
"$root/bin/netcore" -r "$capture" -c 3 >/dev/null
version=$("$root/bin/netcore" --version)
echo "cargo install: ${version%%$'\n'*}"
rm -rf "$root"

deb=$(bash scripts/package.sh | tail -1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
dpkg -i "$deb" >/dev/null
version=$(/usr/bin/netcore --version)
echo "${version%%$'\n'*}"
/usr/bin/netcore -r "$capture" -c 3 >/dev/null
test -s /usr/share/man/man1/netcore.1.gz
test -s /usr/share/bash-completion/completions/netcore
test -s /lib/systemd/system/netcore.service
test -s /usr/share/doc/netcore/events.md
dpkg -r netcore >/dev/null
echo "package: installed, ran, removed"

bash scripts/image.sh "$tag" >/dev/null 2>&1
podman=(podman --runtime runc --cgroup-manager=cgroupfs run --rm
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# Whole outputs, never piped into head: podman fails when its reader leaves early.
version=$("${podman[@]}" "$tag" --version)
echo "${version%%$'\n'*}"
lines=$("${podman[@]}" -v "$PWD/tests/golden:/captures:ro" "$tag" -r /captures/ethernet.pcap -c 3 2>/dev/null | wc -l)
if [ "$lines" -ne 3 ]; then
    echo "image: expected 3 lines from the golden capture, got $lines" >&2
    exit 1
fi
echo "image: $tag ran --version and decoded a capture"
