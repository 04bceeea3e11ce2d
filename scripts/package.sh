#!/usr/bin/env bash
# Builds the Debian package: the release binary (with its kernel programs embedded), the
# man page and shell completions it generates, the systemd unit and the docs.
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchains.sh

if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    cargo +"$USERSPACE_TOOLCHAIN" install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
cargo build --release --quiet --bin netcore
assets=target/assets
mkdir -p "$assets"
netcore=target/release/netcore
"$netcore" --generate man > "$assets/netcore.1"
gzip -9nf "$assets/netcore.1"
"$netcore" --generate bash > "$assets/netcore.bash"
"$netcore" --generate zsh > "$assets/_netcore"
"$netcore" --generate fish > "$assets/netcore.fish"
cargo deb --no-build --quiet --output target/debian/ >&2
newest=$(ls -t target/debian/netcore_*.deb)
echo "${newest%%$'\n'*}"
