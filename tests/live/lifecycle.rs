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

/// The name, capability sets, no-new-privileges flag and seccomp mode of every thread of
/// `pid`.
fn thread_privileges(pid: u32) -> Vec<(String, HashMap<String, String>)> {
    let wanted = [
        "Name",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ];
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            let fields: HashMap<String, String> = status
                .lines()
                .filter_map(|l| l.split_once(':'))
                .filter(|(k, _)| wanted.contains(k))
                .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
                .collect();
            (fields["Name"].clone(), fields)
        })
        .collect()
}

#[test]
fn after_start_up_every_thread_keeps_only_sys_ptrace_under_seccomp_and_owners_still_come() {
    if !root_or_skip(
        "after_start_up_every_thread_keeps_only_sys_ptrace_under_seccomp_and_owners_still_come",
    ) {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--threads", "2", "--metrics", "127.0.0.1:0"]);
    // CAP_SYS_PTRACE is bit 19; none of CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN,
    // CAP_NET_RAW, CAP_SYS_MODULE is left in any set of any thread.
    let sys_ptrace_only = format!("{:016x}", 1u64 << 19);
    let threads = thread_privileges(netcore.child.id());
    assert!(
        threads.len() >= 3,
        "the decoding, output and runtime threads: {threads:?}"
    );
    for (name, fields) in &threads {
        for set in ["CapPrm", "CapEff", "CapBnd"] {
            assert_eq!(fields[set], sys_ptrace_only, "{set} of thread {name}");
        }
        for set in ["CapInh", "CapAmb"] {
            assert_eq!(fields[set], "0000000000000000", "{set} of thread {name}");
        }
        assert_eq!(fields["NoNewPrivs"], "1", "NoNewPrivs of thread {name}");
        assert_eq!(fields["Seccomp"], "2", "a seccomp filter on thread {name}");
    }
    // A connection made after the drop, from a process of another user: its owner comes
    // whole (the namespaces come from /proc, which CAP_SYS_PTRACE still reads).
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let (client_pid, _) =
        tcp_exchange_run_by(&net, &nobody, None, "7411", None, b"after the drop\n");
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        named(events, "net_packet_tcp").any(|e| e["hostProcessId"] == client_pid)
    });
    let mine = named(&events, "net_packet_tcp")
        .find(|e| e["hostProcessId"] == client_pid)
        .unwrap_or_else(|| panic!("no TCP event of the client {client_pid}: {events:?}"));
    assert_eq!(mine["userId"], 65534);
    assert_eq!(mine["processName"], "nc");
    assert_ne!(mine["mountNamespace"], 0);
    assert_ne!(mine["pidNamespace"], 0);
    let (status, summary) = netcore.interrupt();
    assert!(status.success(), "netcore exited with {status}");
    assert!(summary.is_some(), "the summary follows SIGINT");
}

#[test]
fn file_mode_keeps_only_dac_read_search() {
    if !root_or_skip("file_mode_keeps_only_dac_read_search") {
        return;
    }
    // netcore gives its privileges up before it opens the capture: a FIFO holds it there
    // until the test has looked.
    let fifo = std::env::temp_dir().join(format!("netcore-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let netcore = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["--json", "-r"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = netcore.id();
    wait_until(
        "netcore gives up its privileges",
        Duration::from_secs(10),
        || {
            thread_privileges(pid)
                .iter()
                .all(|(_, fields)| fields["NoNewPrivs"] == "1")
        },
    );
    let dac_read_search_only = format!("{:016x}", 1u64 << 2);
    for (name, fields) in thread_privileges(pid) {
        for set in ["CapPrm", "CapEff", "CapBnd"] {
            assert_eq!(fields[set], dac_read_search_only, "{set} of thread {name}");
        }
        assert_eq!(fields["Seccomp"], "2", "a seccomp filter on thread {name}");
    }
    let capture =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/ethernet.pcap"))
            .unwrap();
    std::fs::write(&fifo, capture).unwrap();
    let out = netcore.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&fifo);
    assert!(out.status.success(), "netcore -r FIFO: {}", out.status);
    assert!(
        out.stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
            > 100,
        "the capture's events"
    );
}
