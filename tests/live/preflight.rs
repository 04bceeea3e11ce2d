//! What netcore says when a privilege or a kernel feature is missing.

use super::*;

/// Runs `command` (netcore, refusing to start) and returns its stderr, once it has exited
/// with status 2.
fn refusal(command: &mut Command) -> String {
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn ip_netns_exec_is_named_as_the_cause() {
    if !root_or_skip("ip_netns_exec_is_named_as_the_cause") {
        return;
    }
    let net = TestNet::new();
    let stderr = refusal(Command::new("ip").args([
        "netns",
        "exec",
        &net.a,
        env!("CARGO_BIN_EXE_netcore"),
        "--json",
    ]));
    assert!(stderr.contains("`ip netns exec` remounts /sys"), "{stderr}");
    assert!(
        stderr.contains(&format!("nsenter --net=/run/netns/{}", net.a)),
        "{stderr}"
    );
}

#[test]
fn an_unprivileged_user_with_capabilities_is_told_what_seeding_missed() {
    if !root_or_skip("an_unprivileged_user_with_capabilities_is_told_what_seeding_missed") {
        return;
    }
    // nobody, with exactly the capabilities capture needs: it captures, but cannot read
    // the open files of root's processes to attribute their older sockets.
    let caps = "+bpf,+perfmon,+net_admin";
    let out = Command::new("timeout")
        .args([
            "5",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .args([
            &format!("--inh-caps={caps}"),
            &format!("--ambient-caps={caps}"),
        ])
        .args([env!("CARGO_BIN_EXE_netcore"), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("capturing on cgroup"), "{stderr}");
    assert!(
        stderr.contains("warning: could not see the open sockets of")
            && stderr.contains("needs CAP_SYS_PTRACE"),
        "{stderr}"
    );
}

#[test]
fn missing_privileges_are_named() {
    if !root_or_skip("missing_privileges_are_named") {
        return;
    }
    let netcore = env!("CARGO_BIN_EXE_netcore");
    // An unprivileged user: every capability is missing.
    let stderr = refusal(Command::new("setpriv").args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        netcore,
        "--json",
    ]));
    assert!(
        stderr.contains("missing privilege CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN"),
        "{stderr}"
    );
    assert!(stderr.contains("run netcore as root"), "{stderr}");
    // Root without CAP_BPF (and CAP_SYS_ADMIN, which would stand in for it).
    let stderr = refusal(Command::new("setpriv").args([
        "--bounding-set=-bpf,-sys_admin",
        "--inh-caps=-bpf,-sys_admin",
        netcore,
        "--json",
    ]));
    assert!(stderr.contains("missing privilege CAP_BPF:"), "{stderr}");
    // A --cgroup that is not a cgroup v2 directory.
    let stderr = refusal(Command::new(netcore).args(["--json", "--cgroup", "/tmp"]));
    assert!(
        stderr.contains("--cgroup /tmp: not a directory of a cgroup v2"),
        "{stderr}"
    );
}
