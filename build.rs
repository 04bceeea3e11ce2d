//! Builds the kernel programs in `ebpf/` for the BPF target with the pinned nightly and
//! bpf-linker (see scripts/toolchains.sh), for `src/kernel/loader.rs` to embed.
//! `AYA_BUILD_SKIP=1` skips it. Also records the git commit for `netcore --version`.

use std::process::Command;

/// The dated nightly (on LLVM 22, like bpf-linker) that builds the kernel programs.
fn nightly_toolchain() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/toolchains.sh");
    println!("cargo:rerun-if-changed={script}");
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(". {script} && printf %s \"$NIGHTLY_TOOLCHAIN\""),
        ])
        .output()
        .expect("sourcing scripts/toolchains.sh");
    String::from_utf8(out.stdout).expect("toolchain name is UTF-8")
}

/// The commit being built (`NETCORE_COMMIT`), or "unknown" outside a git checkout.
fn record_git_commit() {
    let root = env!("CARGO_MANIFEST_DIR");
    for watched in [".git/HEAD", ".git/index"] {
        println!("cargo:rerun-if-changed={root}/{watched}");
    }
    let commit = Command::new("git")
        .args(["-C", root, "rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
    println!("cargo:rustc-env=NETCORE_COMMIT={commit}");
}

fn main() {
    record_git_commit();
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .expect("cargo metadata");
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|p| p.name.as_str() == "netcore-ebpf")
        .expect("the netcore-ebpf package is in the workspace");
    let root = ebpf.manifest_path.parent().expect("manifest has a parent");
    let nightly = nightly_toolchain();
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "netcore-ebpf",
            root_dir: root.as_str(),
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(&nightly),
    )
    .expect("building the eBPF programs (is bpf-linker installed? run scripts/setup.sh)");
}
