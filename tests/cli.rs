//! The command line itself: `--version`, `--help`, the man page and completions.

mod common;

use common::netcore;

fn stdout_of(args: &[&str]) -> String {
    let out = netcore(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_names_the_commit_and_the_kernel_features() {
    let text = stdout_of(&["--version"]);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!("netcore {} (commit ", env!("CARGO_PKG_VERSION"))));
    let commit = first
        .split("(commit ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    assert!(
        commit == "unknown" || commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{first}"
    );
    for line in [
        "schemas: tracee-0.22, tracee-0.24",
        "kernel ",
        "BTF: ",
        "cgroup v2: ",
        "AF_XDP sockets: ",
        "privileges: ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no {line:?} in\n{text}"
        );
    }
    assert_eq!(stdout_of(&["-V"]), text);
}

#[test]
fn help_gives_examples_exit_codes_and_the_docs() {
    let text = stdout_of(&["--help"]);
    assert!(text.contains("Examples:"), "{text}");
    assert!(text.contains("Exit codes: 0 done"), "{text}");
    assert!(text.contains("/usr/share/doc/netcore"), "{text}");
}

#[test]
fn man_page_and_completions_are_generated_from_the_options() {
    let man = stdout_of(&["--generate", "man"]);
    assert!(man.contains(".TH netcore 1"), "{man}");
    assert!(
        man.contains("\\-\\-schema"),
        "the options are in the man page"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["--generate", shell]);
        assert!(
            script.contains("schema") && script.contains("netcore"),
            "{shell}"
        );
    }
}
