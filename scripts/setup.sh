#!/usr/bin/env bash
# Installs everything netcore needs to build, run and test on Debian 12, as root.
# Safe to run again: each step is skipped when already done. `--run-only` leaves out
# what only the tests need and takes long to build (cargo-fuzz, the tansu broker).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchains.sh

tests=yes
[ "${1:-}" = "--run-only" ] && tests=no

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

apt_packages=(
    build-essential pkg-config   # C parts of libfuzzer-sys
    iproute2 tcpdump netcat-openbsd iputils-ping curl dnsmasq dnsutils   # golden captures, live tests
    python3 openssl   # tests/live.rs: a web server and a TLS server for the flow comparison
    llvm-22-dev libpolly-22-dev libzstd-dev zlib1g-dev   # bpf-linker, which links the eBPF programs
    m4 clang llvm libelf-dev libbpf-dev   # xsk-rs builds libxdp and libbpf (AF_XDP)
    bpftool util-linux   # live tests: attachment checks, setpriv
    libpcap-dev   # pcap filter expressions (compiled and run by libpcap)
    dpkg-dev podman runc   # the .deb (dpkg-shlibdeps) and the container image (scripts/check-install.sh)
    busybox-static   # the live tests' container image (podman import of a busybox root)
    tshark   # the differential test against Wireshark (tests/tshark_differential.rs)
    protobuf-compiler   # containerd-client's gRPC bindings (build time)
    containerd docker.io   # tests/containers.rs: containerd (ctr) and Docker daemons
    nats-server   # tests/outputs.rs: the NATS (JetStream) broker
)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v rustup >/dev/null; then
    echo "setup.sh: rustup is required (the machine's Rust toolchain manager)" >&2
    exit 1
fi
rustup toolchain install "$USERSPACE_TOOLCHAIN" --profile minimal -c clippy,rustfmt >/dev/null
rustup toolchain install "$NIGHTLY_TOOLCHAIN" --profile minimal -c rust-src >/dev/null

if [ "$tests" = yes ] && ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo +"$USERSPACE_TOOLCHAIN" install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
if ! bpf-linker --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then
    LLVM_PREFIX="$LLVM_PREFIX" PATH="$LLVM_PREFIX/bin:$PATH" \
        cargo +"$USERSPACE_TOOLCHAIN" install bpf-linker --version "$BPF_LINKER_VERSION" \
        --no-default-features --features llvm-22 --locked --quiet
fi
# tests/outputs/otlp.rs: the independent OTLP receiver (tests/data/otlp/receiver.py),
# grpcio and OpenTelemetry's own Python bindings from PyPI. ~5 s.
if [ "$tests" = yes ] && ! python3 -c "import grpc, opentelemetry.proto" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        grpcio==1.85.4 opentelemetry-proto==1.45.2 ||
        python3 -m pip install --quiet --break-system-packages \
            grpcio==1.85.4 opentelemetry-proto==1.45.2
fi
# tests/outputs.rs: tansu, a Kafka-protocol broker (Debian has none), with its SQLite
# storage so a restarted broker keeps its topics. ~9 minutes to build on 2 cores.
tansu_root=/opt/tansu-0.6.0-libsql
if [ "$tests" = yes ]; then
    if [ ! -x "$tansu_root/bin/tansu" ]; then
        cargo +"$USERSPACE_TOOLCHAIN" install tansu --version 0.6.0 --features libsql \
            --locked --root "$tansu_root" --quiet
    fi
    ln -sf "$tansu_root/bin/tansu" /usr/local/bin/tansu
fi
echo "setup.sh: ready (rust $USERSPACE_TOOLCHAIN, $NIGHTLY_TOOLCHAIN, cargo-fuzz $CARGO_FUZZ_VERSION," \
    "bpf-linker $BPF_LINKER_VERSION)"
