# Pinned toolchains, sourced by the other scripts. See docs/toolchain.md.
# Userspace: the stable release rust-toolchain.toml names (aya 0.16 needs >= 1.98).
USERSPACE_TOOLCHAIN=1.99.1
# eBPF programs and fuzzers: a dated nightly on LLVM 22, the LLVM bpf-linker is built
# against. Never the floating `nightly`: it moved to LLVM 23, which bpf-linker rejects.
NIGHTLY_TOOLCHAIN=nightly-2026-07-01
CARGO_FUZZ_VERSION=0.13.2
# Links the eBPF programs; built against Debian's llvm-22 (the nightly's LLVM major).
BPF_LINKER_VERSION=0.13.0
LLVM_PREFIX=/usr/lib/llvm-22
# Builds the .deb (scripts/package.sh).
CARGO_DEB_VERSION=3.8.0
