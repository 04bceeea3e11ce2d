//! Host mode's flow accounting: with only flow events selected the kernel counts the
//! flows and sends up only the packets the events read; the records stay exact.

use super::*;

/// The JSON object `key` a `tests/live/udp_flood.py` run printed: datagrams by source port.
fn flood_counts(output: std::process::Output, key: &str) -> HashMap<u16, u64> {
    assert!(output.status.success(), "udp_flood.py failed: {output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("udp_flood.py's JSON");
    printed[key]
        .as_object()
        .unwrap_or_else(|| panic!("no {key} in {printed}"))
        .iter()
        .map(|(port, n)| (port.parse().unwrap(), n.as_u64().unwrap()))
        .collect()
}

/// Stops `netcore` and returns its events touching `address`, all of them (the flows end
/// with the capture), and its summary line.
fn events_at_the_end(netcore: Netcore, address: &str) -> (Vec<Value>, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(netcore.child.id() as i32, libc::SIGINT) };
    let events = netcore.events_for(address, Duration::from_secs(20), |_| false);
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    (events, summary.expect("a summary line"))
}

/// The `net_flow` records of `events`.
fn records(events: &[Value]) -> Vec<Value> {
    named(events, "net_flow").cloned().collect()
}

/// `tests/live/udp_flood.py send` from the client's namespace to the server's `port`:
/// `flows` sockets, `rate` datagrams a second for `seconds`; what each socket sent.
fn flood(net: &TestNet, port: &str, flows: &str, rate: &str, seconds: &str) -> HashMap<u16, u64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/udp_flood.py");
    let argv = [
        "python3",
        script,
        "send",
        &net.server,
        port,
        flows,
        rate,
        seconds,
    ];
    let sender = net
        .command(&net.b, None, &argv)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    flood_counts(sender, "sent")
}

/// A `tests/live/udp_flood.py receive` on the server's `port`, for `seconds` and until
/// the datagrams stop; listening when this returns.
fn flood_receiver(net: &TestNet, port: u16, seconds: &str) -> std::process::Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/udp_flood.py");
    let port_text = port.to_string();
    let receiver = net
        .command(
            &net.a,
            None,
            &["python3", script, "receive", &port_text, seconds],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the receiver listens", Duration::from_secs(10), || {
        listening_udp(Some(&net.a), port)
    });
    receiver
}

/// Asserts that each flow of `sent` and `received` (datagrams by source port) has a
/// record of each namespace in `records` with exactly those datagrams of 100 bytes.
fn assert_exact(records: &[Value], sent: &HashMap<u16, u64>, received: &HashMap<u16, u64>) {
    // The sender's record (outgoing) counts what its socket sent, the receiver's
    // (incoming) what reached its host.
    for (direction, truth) in [("outgoing", sent), ("incoming", received)] {
        for (&port, &datagrams) in truth {
            let record = records
                .iter()
                .find(|r| arg(r, "conn_direction") == direction && arg(r, "src_port") == port)
                .unwrap_or_else(|| panic!("no {direction} flow from port {port}: {records:#?}"));
            assert_eq!(arg(record, "orig_packets"), datagrams, "{record}");
            assert_eq!(arg(record, "orig_bytes"), datagrams * 100, "{record}");
            assert_eq!(arg(record, "orig_ip_bytes"), datagrams * 128, "{record}");
            assert_eq!(arg(record, "resp_packets"), 0, "{record}");
            assert_eq!(record["processName"], "python3", "{record}");
        }
    }
}

#[test]
fn a_udp_flood_is_counted_exactly_in_the_kernel() {
    if !root_or_skip("a_udp_flood_is_counted_exactly_in_the_kernel") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_flow"]);
    let receiver = flood_receiver(&net, 9000, "3");
    // 16 flows, 5,000 datagrams of 100 bytes in half a second.
    let sent = flood(&net, "9000", "16", "10000", "0.5");
    let received = flood_counts(receiver.wait_with_output().unwrap(), "received");
    assert_eq!(sent.len(), 16);
    let (events, summary) = events_at_the_end(netcore, &net.server);
    assert_exact(&records(&events), &sent, &received);
    // The kernel kept all but each flow's first packets: at most 4 a flow in each
    // namespace went up (other tests' traffic may add to what it kept).
    let total: u64 = sent.values().sum::<u64>() + received.values().sum::<u64>();
    let kept = number_before(&summary, " counted in their flows only");
    assert!(
        kept + 2 * 16 * 4 >= total,
        "{total} sent and received: {summary}"
    );
}

#[test]
fn a_tcp_transfer_counted_in_the_kernel_keeps_its_bytes_and_names() {
    if !root_or_skip("a_tcp_transfer_counted_in_the_kernel_keeps_its_bytes_and_names") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_flow"]);
    // An HTTP request's head, then 300 kB: the head names the flow's host.
    let mut payload = b"POST /upload HTTP/1.1\r\nHost: upload.test\r\n\r\n".to_vec();
    payload.resize(300_000, b'x');
    let (client_pid, server_pid) = tcp_exchange(&net, "7011", None, &payload);
    let (events, summary) = events_at_the_end(netcore, &net.server);
    let records = records(&events);
    for (direction, pid) in [("outgoing", client_pid), ("incoming", server_pid)] {
        let record = records
            .iter()
            .find(|r| arg(r, "conn_direction") == direction && arg(r, "dst_port") == 7011)
            .unwrap_or_else(|| panic!("no {direction} flow: {records:#?}"));
        assert_eq!(arg(record, "orig_bytes"), 300_000, "{record}");
        assert_eq!(arg(record, "resp_bytes"), 0, "{record}");
        assert_eq!(arg(record, "conn_state"), "SF", "{record}");
        assert_eq!(arg(record, "http_host"), "upload.test", "{record}");
        assert_eq!(record["hostProcessId"], pid, "{record}");
    }
    assert!(
        number_before(&summary, " counted in their flows only") > 20,
        "most segments stay in the kernel: {summary}"
    );
}

#[test]
fn packet_events_turn_flow_accounting_off() {
    if !root_or_skip("packet_events_turn_flow_accounting_off") {
        return;
    }
    let net = TestNet::new();
    // A packet event other tests' traffic does not give (their floods would fill the
    // output queue).
    let netcore = Netcore::start(&["--events", "net_flow,net_packet_icmp"]);
    let receiver = flood_receiver(&net, 9001, "1");
    let sent = flood(&net, "9001", "1", "1000", "0.1");
    receiver.wait_with_output().unwrap();
    let (events, summary) = events_at_the_end(netcore, &net.server);
    let records = records(&events);
    let record = records
        .iter()
        .find(|r| arg(r, "conn_direction") == "outgoing" && arg(r, "dst_port") == 9001)
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(arg(record, "orig_packets"), sent.values().sum::<u64>());
    assert!(
        !summary.contains(" counted in their flows only"),
        "every packet went up: {summary}"
    );
}

#[test]
fn over_its_cpu_budget_netcore_samples_packet_events_and_keeps_flow_counts() {
    if !root_or_skip("over_its_cpu_budget_netcore_samples_packet_events_and_keeps_flow_counts") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_udp,net_flow",
        "--cpu-budget",
        "0.05",
        "--stats",
        "1",
    ]);
    let receiver = flood_receiver(&net, 9002, "3");
    // 16 flows, 45,000 datagrams in 3 s: every UDP event would cost far more than a
    // twentieth of a core (idle, netcore uses about a seventieth).
    let sent = flood(&net, "9002", "16", "15000", "3");
    let received = flood_counts(receiver.wait_with_output().unwrap(), "received");
    // Idle again: the budget lets every packet's events through again.
    assert!(
        netcore
            .wait_stderr("one packet in 1 now", Duration::from_secs(20))
            .is_some(),
        "no recovery after the flood"
    );
    let (events, summary) = events_at_the_end(netcore, &net.server);
    assert_exact(&records(&events), &sent, &received);
    let flood_events: Vec<&Value> = named(&events, "net_packet_udp")
        .filter(|e| arg(e, "dst_port") == 9002)
        .collect();
    let total = sent.values().sum::<u64>() + received.values().sum::<u64>();
    assert!(
        (flood_events.len() as u64) < total / 2,
        "{} of {total} packets' events written: {summary}",
        flood_events.len()
    );
    // Each sampled event says one in how many packets it stands for.
    let sampled: Vec<u64> = flood_events
        .iter()
        .filter_map(|e| e["sampled"].as_u64())
        .collect();
    assert!(
        !sampled.is_empty() && sampled.iter().all(|&n| n > 1),
        "{sampled:?}"
    );
    assert!(summary.contains("--cpu-budget: shed "), "{summary}");
}

#[test]
fn a_cpu_budget_is_refused_with_what_reads_every_packet() {
    if !root_or_skip("a_cpu_budget_is_refused_with_what_reads_every_packet") {
        return;
    }
    for (flags, why) in [
        (&["-w", "/dev/null"][..], "-w writes every packet"),
        (
            &["--tunnel", "both"],
            "--tunnel inner/both reads every packet",
        ),
        (&["-Q", "in"], "-Q leaves packets out after capture"),
        (
            &["udp", "port", "53"],
            "a pcap expression reads every packet",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
            .args(["--json", "--cpu-budget", "0.1"])
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(&format!("--cpu-budget: cannot shed: {why}")),
            "{flags:?}: {stderr}"
        );
    }
}

#[test]
fn a_lossy_connection_counted_in_the_kernel_has_its_sockets_retransmissions() {
    if !root_or_skip("a_lossy_connection_counted_in_the_kernel_has_its_sockets_retransmissions") {
        return;
    }
    let net = TestNet::new();
    net.lose_segments("9003");
    let netcore = Netcore::start(&["--events", "net_flow"]);
    net.traffic("9003", "f400000");
    let (events, summary) = events_at_the_end(netcore, &net.server);
    let records = records(&events);
    let sender = records
        .iter()
        .find(|r| arg(r, "conn_direction") == "outgoing" && arg(r, "dst_port") == 9003)
        .unwrap_or_else(|| panic!("no outgoing flow: {records:#?}"));
    // Most segments stayed in the kernel: the retransmissions come from the sending
    // socket's own count.
    assert!(
        number_before(&summary, " counted in their flows only") > 100,
        "{summary}"
    );
    assert!(
        arg(sender, "orig_retransmits").as_u64().unwrap() > 0,
        "{sender}"
    );
    // What the socket sent: the kind byte and 400,000 bytes, retransmissions on top.
    assert!(
        arg(sender, "orig_bytes").as_u64().unwrap() >= 400_001,
        "{sender}"
    );
}
