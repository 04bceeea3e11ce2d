//! Signals, closed outputs and what a run leaves behind.

use super::*;

#[test]
fn a_closed_output_ends_the_run_cleanly() {
    if !root_or_skip("a_closed_output_ends_the_run_cleanly") {
        return;
    }
    let net = TestNet::new();
    let mut ping = net
        .command(
            &net.b,
            None,
            &["ping", "-c", "40", "-i", "0.2", &net.server],
        )
        .spawn()
        .unwrap();
    // `netcore 2>&1 | head -3`: head leaves after the start line and two events; the
    // next writes fail on both outputs, and netcore must end as if interrupted.
    let script = format!(
        "timeout 20 {} --json 2>&1 | head -3 >/dev/null; echo ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_netcore")
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let _ = (ping.kill(), ping.wait());
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        status.trim(),
        "0",
        "netcore's exit status (101 is a panic, 124 a hang)"
    );
}

#[test]
fn sighup_flushes_and_capture_goes_on() {
    if !root_or_skip("sighup_flushes_and_capture_goes_on") {
        return;
    }
    // The ioc signature reads its indicator list again on SIGHUP.
    let list = std::env::temp_dir().join(format!("netcore-iocs-{}.txt", std::process::id()));
    std::fs::write(&list, "evil.example\n").unwrap();
    let netcore = Netcore::start(&["--signatures", "ioc", "--ioc-file", list.to_str().unwrap()]);
    std::fs::write(&list, "evil.example\nbad.example\n203.0.113.0/24\n").unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(netcore.child.id() as i32, libc::SIGHUP) };
    let reread = "SIGHUP: 2 domains and 1 prefixes read from";
    assert!(
        netcore
            .wait_stderr(reread, Duration::from_secs(5))
            .is_some()
    );
    assert!(
        netcore
            .wait_stderr("SIGHUP: events written out", Duration::from_secs(5))
            .is_some()
    );
    let _ = std::fs::remove_file(&list);
    let (status, summary) = netcore.interrupt();
    assert!(
        status.success(),
        "netcore exited with {status} after SIGHUP"
    );
    assert!(summary.is_some(), "the summary follows SIGINT");
}

/// Ids of the eBPF programs process `pid` holds open (program and link fds both name
/// theirs in `/proc/PID/fdinfo`).
fn programs_of(pid: u32) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .filter_map(|fd| std::fs::read_to_string(fd.ok()?.path()).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("prog_id:"))
                .and_then(|id| id.trim().parse().ok())
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Program ids that are still attached through a link, per `bpftool link show`.
fn linked_programs() -> Vec<u64> {
    let out = Command::new("bpftool")
        .args(["-j", "link", "show"])
        .output()
        .expect("bpftool");
    let links: Value = serde_json::from_slice(&out.stdout).expect("bpftool JSON");
    links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["prog_id"].as_u64()) // A link being torn down has none.
        .collect()
}

#[test]
fn sigkill_leaves_nothing_attached() {
    if !root_or_skip("sigkill_leaves_nothing_attached") {
        return;
    }
    let mut netcore = Netcore::start(&[]);
    let pid = netcore.child.id();
    let ours = programs_of(pid);
    assert!(
        ours.len() >= 13,
        "expected all our programs loaded, got {ours:?}"
    );
    assert!(
        ours.iter().all(|id| linked_programs().contains(id)),
        "not all attached"
    );
    netcore.child.kill().unwrap();
    netcore.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let linked = linked_programs();
        let still: Vec<&u64> = ours.iter().filter(|id| linked.contains(id)).collect();
        if still.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "programs still attached after SIGKILL: {still:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}
